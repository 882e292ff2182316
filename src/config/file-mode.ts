// Keeps a secret-bearing file or directory private: tightens a mode that lets others in to 0600 (a file) or 0700 (a
// directory), or says why it cannot (a read-only mount).
import { chmodSync, statSync } from "node:fs";

/**
 * "private" when only the owner may read `path`, "tightened" when it was made 0600 (0700 for a directory) now, else
 * why it could not be (a read-only mount, e.g. a container's secret volume at 0644): it is then used as it is, not
 * refused, and the caller says so once.
 */
export function keepPrivate(path: string): "private" | "tightened" | { cannot: string } {
  const st = statSync(path);
  if ((st.mode & 0o077) === 0) return "private";
  try {
    chmodSync(path, st.isDirectory() ? 0o700 : 0o600);
    return "tightened";
  } catch (e) {
    return { cannot: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
}
