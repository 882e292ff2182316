// "1 file", "63 files": the counts `install` and `uninstall` print (an upgrade of the binary alone writes one).
export function files(n: number): string {
  return `${n} file${n === 1 ? "" : "s"}`;
}
