// Keeps a secret-bearing file private: tightens a mode that lets others read it to 0600, or says why it cannot (a read-only mount).
import { chmodSync, statSync } from "node:fs";

/**
 * "private" when only the owner may read `file`, "tightened" when it was made 0600 now, else why it could not be
 * (a read-only mount, e.g. a container's secret volume at 0644): the file is then used as it is, not refused, and the
 * caller says so once.
 */
export function keepPrivate(file: string): "private" | "tightened" | { cannot: string } {
  if ((statSync(file).mode & 0o077) === 0) return "private";
  try {
    chmodSync(file, 0o600);
    return "tightened";
  } catch (e) {
    return { cannot: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
}
