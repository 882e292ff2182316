// parseSimple answers exactly as node:util's parseArgs for the command lines it takes, and leaves every other one to it.
import { expect, test } from "bun:test";
import { parseArgs } from "node:util";
import { parseSimple } from "./simple-args.ts";
import { parse, UsageError } from "./args.ts";

const OPTIONS = {
  config: { type: "string", short: "c" },
  json: { type: "boolean" },
  models: { type: "string", multiple: true },
  "dry-run": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const node = (args: string[], allowPositionals: boolean) => {
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals, strict: true });
  } catch (e) {
    return (e as Error).message;
  }
};

test("the command lines parseSimple takes come out as parseArgs gives them (values with a null prototype, in order)", () => {
  const lines = [
    [],
    ["--config", "/x/relay.toml"],
    ["-c", "a.toml", "--json"],
    ["--config=b.toml", "pos1", "pos2"],
    ["--config=", "--json", "--json"],
    ["--config", "a", "--config", "b"],
    ["--models", "a*", "--models=b", "-h"],
    ["validate", "--dry-run", "file.toml"],
    ["--config", "with=equals"],
  ];
  for (const args of lines) {
    const simple = parseSimple(args, OPTIONS, true);
    expect(simple).not.toBeNull();
    expect({ args, r: simple }).toStrictEqual({ args, r: node(args, true) as never });
    expect(Object.getPrototypeOf(simple!.values)).toBeNull();
  }
});

test("anything else goes to parseArgs: unknown, grouped or ambiguous options, --, a missing value, positionals where none are allowed", () => {
  const lines: [string[], boolean][] = [
    [["--confg", "x"], true],
    [["-cx"], true],
    [["-c=x"], true],
    [["-x"], true],
    [["--config"], true],
    [["--config", "--json"], true],
    [["-c", "-1"], true],
    [["--json=yes"], true],
    [["--", "a"], true],
    [["-"], true],
    [["a"], false],
    [["--constructor"], true],
    [["--__proto__", "x"], true],
  ];
  for (const [args, allow] of lines) expect({ args, r: parseSimple(args, OPTIONS, allow) }).toEqual({ args, r: null });
  expect(parseSimple([], { n: { type: "string", default: "1" } }, true)).toBeNull();
});

test("parse() words errors as before (parseArgs's message, with a hint for a near miss)", () => {
  expect(() => parse(["--confg", "x"], { config: { type: "string", short: "c" } })).toThrow(UsageError);
  expect(() => parse(["--confg", "x"], { config: { type: "string", short: "c" } })).toThrow(/Unknown option '--confg'.*did you mean "--config"/);
  expect(() => parse(["a"], {}, false)).toThrow(UsageError);
  expect(parse(["--config", "f", "p"], { config: { type: "string", short: "c" } })).toStrictEqual(parseArgs({ args: ["--config", "f", "p"], options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true }));
});
