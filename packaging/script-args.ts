// The command-line edge of the packaging scripts: options, --help, exit 2 on bad usage, exit 1 with one line on failure.
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

export function scriptArgs<const T extends ParseArgsOptionsConfig>(usage: string, options: T) {
  let parsed;
  try {
    parsed = parseArgs({ args: Bun.argv.slice(2), options: { ...options, help: { type: "boolean", short: "h" } } as T & { help: { type: "boolean"; short: "h" } } });
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`);
    process.exit(2);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed.values;
}

export function usageError(message: string, usage: string): never {
  console.error(`${message}\n${usage}`);
  process.exit(2);
}

export async function runScript(main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}
