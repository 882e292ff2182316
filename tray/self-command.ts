// How to run this same program again: the compiled binary itself, or bun with the entry script in development.
export function selfCommand(): string[] {
  // Inside a compiled binary the entry lives in Bun's virtual filesystem and process.execPath is the binary.
  if (Bun.main.startsWith("/$bunfs/") || Bun.main.includes("~BUN")) return [process.execPath];
  return [process.execPath, Bun.main];
}
