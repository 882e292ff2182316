// Writes one line to stderr as it is: on a terminal Bun's console.error paints the whole line red (a "Stored …" or a log line's time).
/**
 * Whether stderr is a terminal, asked without creating `process.stderr`: that Node stream (and the tty and stream
 * modules behind it) costs an idle relay about a MiB of heap besides the code it pages in (docs/performance.md).
 */
export function stderrIsTTY(): boolean {
  try {
    return (process as unknown as { binding(name: string): { isTTY(fd: number): boolean } }).binding("tty_wrap").isTTY(2);
  } catch {
    return !!process.stderr.isTTY;
  }
}

let tty: boolean | undefined;

/**
 * One line to stderr, synchronously and without `process.stderr`. On a terminal straight to fd 2; elsewhere through
 * console.error, which writes one string as it is there (no node:fs) and copes with a non-blocking pipe.
 */
export function writeStderrLine(text: string): void {
  if (!(tty ??= stderrIsTTY())) return void console.error(text);
  // node:fs only on a terminal: an idle relay or daemon under systemd never loads it (docs/performance.md, item 9).
  const { writeSync } = require("node:fs") as typeof import("node:fs");
  const bytes = Buffer.from(`${text}\n`);
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(2, bytes, done);
  } catch {
    // A terminal someone made non-blocking (EAGAIN): console.error writes the rest, painted but not lost.
    if (done < bytes.length - 1) console.error(bytes.subarray(done, bytes.length - 1).toString());
  }
}
