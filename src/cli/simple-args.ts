// The usual command lines (known --long and -s options, their values, positionals) parsed without node:util, whose parseArgs pages in 4 MiB of the runtime's code in every long-running process; args.ts hands anything else to parseArgs.
import type { ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Value = string | boolean | string[];

/**
 * What `parseArgs({ args, options, allowPositionals, strict: true })` returns, for a command line it would accept
 * without question: every option known, spelled `--name`, `--name=value` or `-s`, a string option's value not
 * starting with "-". Null for anything else (an unknown or short-grouped option, `--`, a missing value, an option's
 * default): parseArgs then answers, or words the error, as before.
 */
export function parseSimple(args: string[], options: Options, allowPositionals: boolean): { values: Record<string, Value>; positionals: string[] } | null {
  if (Object.values(options).some((o) => o.default !== undefined)) return null;
  const byShort = new Map(Object.entries(options).flatMap(([name, o]) => (o.short ? [[o.short, name] as const] : [])));
  const values: Record<string, Value> = Object.create(null);
  const positionals: string[] = [];
  const store = (name: string, v: string | boolean) => {
    if (options[name]!.multiple) ((values[name] ??= []) as (string | boolean)[]).push(v);
    else values[name] = v;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("-")) {
      if (!allowPositionals) return null;
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") ? arg.slice(2, eq < 0 ? undefined : eq) : arg.length === 2 ? byShort.get(arg[1]!) : undefined;
    const o = name && Object.hasOwn(options, name) ? options[name]! : undefined;
    if (!o || !name) return null;
    if (o.type === "boolean") {
      if (eq >= 0 && arg.startsWith("--")) return null;
      store(name, true);
    } else if (arg.startsWith("--") && eq >= 0) store(name, arg.slice(eq + 1));
    else {
      const next = args[i + 1];
      if (next === undefined || next.startsWith("-")) return null;
      store(name, next);
      i++;
    }
  }
  return { values, positionals };
}
