// Whether an error is the process (or the system) being out of file descriptors: EMFILE or ENFILE, as Node's fs names it or as Bun's module loader words it.

/** The descriptor shortage `e` reports ("EMFILE" or "ENFILE"), or null for any other error. */
export function outOfDescriptors(e: unknown): "EMFILE" | "ENFILE" | null {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EMFILE" || code === "ENFILE") return code;
  // Bun's loader has no code on what it throws: `EMFILE reading "…/assets.ts"`.
  const m = /\b(EMFILE|ENFILE)\b/.exec(e instanceof Error ? e.message : "");
  return m ? (m[1] as "EMFILE" | "ENFILE") : null;
}

/** What a caller is told: a moment's shortage to retry, not a bug. */
export function descriptorShortage(code: "EMFILE" | "ENFILE"): string {
  return code === "EMFILE"
    ? "the daemon is out of file descriptors (EMFILE: its open-file limit, ulimit -n, is reached); retry in a moment"
    : "the system is out of file descriptors (ENFILE); retry in a moment";
}
