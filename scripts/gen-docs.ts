// Regenerates README's `cli` and `config` sections from the command table's help texts and the config schema (`bun scripts/gen-docs.ts`; `--check` only compares).
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { TSchema } from "@sinclair/typebox";
import { COMMANDS } from "../src/cli/commands.ts";
import { ConfigSchema } from "../src/config/schema.ts";
import { choices, typeLabel } from "../src/config/render.ts";

export const README = join(resolve(import.meta.dir, ".."), "README.md");

const code = (s: string) => "```text\n" + s.trimEnd() + "\n```";
const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The CLI reference: a summary table, then every command's (and subcommand's) --help text. */
export async function renderCliSection(): Promise<string> {
  const out: string[] = ["## Command line", "", "`cloudtolocalllm-tunnel [COMMAND] [OPTIONS]`; without a command, `serve` runs. Every command answers `--help`.", "Exit codes: 0 success, 1 runtime failure, 2 usage error or invalid configuration. Errors are one sentence naming what is wrong (the file and field, where there is one), most ending with the error's stable code in brackets, e.g. `[daemon_unreachable]`: every code in [docs/errors.md](docs/errors.md#codes-of-the-errors-inside-the-daemon-and-the-cli).", ""];
  out.push("| Command | What it does |", "| --- | --- |");
  for (const c of COMMANDS) out.push(`| [\`${c.name}\`](#${c.name}) | ${cell(c.summary)} |`);
  for (const c of COMMANDS) {
    const cmd = (await c.load()).default;
    out.push("", `### ${c.name}`, "", code(cmd.help));
    for (const sub of cmd.subcommands ?? []) {
      const help = cmd.helpFor ? await cmd.helpFor([sub]) : "";
      if (help && help !== cmd.help) out.push("", `#### ${c.name} ${sub}`, "", code(help));
    }
  }
  return out.join("\n");
}

const isTable = (s: TSchema) => s.type === "object" && !!s.properties;
const isTableArray = (s: TSchema) => s.type === "array" && isTable(s.items as TSchema);

function defaultCell(s: TSchema, required: boolean): string {
  if (s.default === undefined) return required ? "*required*" : "";
  const v = s.default;
  const shown = Array.isArray(v) ? `[${v.map((x) => JSON.stringify(x)).join(", ")}]` : JSON.stringify(v);
  return `\`${cell(shown)}\``;
}

function tableDoc(out: string[], header: string, schema: TSchema): void {
  const props = schema.properties as Record<string, TSchema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  out.push("", `### \`${header}\``, "");
  if (schema.description) out.push(schema.description as string, "");
  const nested: [string, TSchema][] = [];
  out.push("| Key | Type | Default | Description |", "| --- | --- | --- | --- |");
  for (const [k, s] of Object.entries(props)) {
    if (isTable(s) || isTableArray(s)) {
      nested.push([k, s]);
      continue;
    }
    const desc = [s.description, choices(s) && !s.description?.includes(choices(s)![0]!.slice(1, -1)) ? `One of ${choices(s)!.join(", ")}.` : ""].filter(Boolean).join(" ");
    out.push(`| \`${k}\` | ${cell(typeLabel(s))} | ${defaultCell(s, required.has(k))} | ${cell(desc as string)} |`);
  }
  const base = header.replace(/^\[+|\]+$/g, "");
  for (const [k, s] of nested) tableDoc(out, isTable(s) ? `[${base}.${k}]` : `[[${base}.${k}]]`, isTable(s) ? s : (s.items as TSchema));
}

/** What one table of each [[array]] section stands for, for "Repeat the table for each …". */
const ONE_OF: Record<string, string> = { upstreams: "upstream", aliases: "alias" };

/** The configuration reference, one table per section, straight from the schema. */
export function renderConfigSection(): string {
  const out: string[] = [
    "## Configuration",
    "",
    "One TOML file: `$XDG_CONFIG_HOME/cloudtolocalllm/tunnel.toml` (usually `~/.config/cloudtolocalllm/tunnel.toml`), or the file named by",
    "`--config FILE` or `CLOUDTOLOCALLLM_CONFIG`. The first run writes it with every key and its description as comments (or",
    "migrates the 1.x/2.x app's `~/.cloudtolocalllm/tunnel_config.json` and `connection_config.json`, leaving them untouched).",
    "",
    "- **Live reload.** The daemon watches the file's directory (so editors that save by renaming work) and applies a change",
    "  after a short pause; `kill -HUP` does the same. Only the parts whose settings changed are touched: in-flight requests",
    "  and the tunnel are left alone when you edit something else.",
    "- **Invalid files never replace the running configuration.** The error is logged with file, line and column and kept",
    "  for `status` and the API; fix the file and save again. `cloudtolocalllm-tunnel config validate` runs the same checks.",
    "- **Checks.** Unknown keys are errors with a suggestion (`unknown key \"lisen\" in [api] (did you mean \"listen\"?)`);",
    "  ports, durations (`250ms`, `30s`, `5m`, `1h`) and URLs are checked, and so are rules across fields (unique upstream",
    "  names, `tunnel.enabled` needs `tunnel.relay_url`, backoff and heartbeat bounds, distinct listen addresses).",
    "- **Safe writes.** Everything the program writes (`config import`, `config restore`, `config migrate`, the API) is",
    "  validated first, the current file is copied to `$XDG_STATE_HOME/cloudtolocalllm/backups/` (last 20 kept), and the new",
    "  one replaces it atomically with mode 0600. `config export` redacts inline secrets; tokens and API keys belong in the",
    "  secret store and the config refers to them by name.",
    "",
    "How reloads, backups and the 1.x/2.x migration work, field by field: [docs/configuration.md](docs/configuration.md).",
  ];
  for (const [k, s] of Object.entries(ConfigSchema.properties as Record<string, TSchema>)) {
    if (isTable(s)) tableDoc(out, `[${k}]`, s);
    else if (isTableArray(s)) {
      const item = { ...(s.items as TSchema), description: [s.description, `Repeat the table for each ${ONE_OF[k] ?? "entry"}.`].filter(Boolean).join(" ") } as TSchema;
      tableDoc(out, `[[${k}]]`, item);
      if (s.default !== undefined) out.push("", `Default: ${"`"}${cell(JSON.stringify(s.default))}${"`"}.`);
    }
  }
  return out.join("\n");
}

/** Replaces what lies between `<!-- section:NAME -->` and `<!-- /section:NAME -->`. */
export function replaceSection(readme: string, name: string, body: string): string {
  const open = `<!-- section:${name} -->`;
  const close = `<!-- /section:${name} -->`;
  const a = readme.indexOf(open);
  const b = readme.indexOf(close);
  if (a < 0 || b < a) throw new Error(`README.md has no ${open} … ${close} markers`);
  return readme.slice(0, a + open.length) + "\n" + body.trim() + "\n" + readme.slice(b);
}

export function sectionOf(readme: string, name: string): string {
  const open = `<!-- section:${name} -->`;
  const a = readme.indexOf(open);
  const b = readme.indexOf(`<!-- /section:${name} -->`);
  return a < 0 || b < a ? "" : readme.slice(a + open.length, b).trim();
}

export async function generatedReadme(current = readFileSync(README, "utf8")): Promise<string> {
  let next = replaceSection(current, "cli", await renderCliSection());
  next = replaceSection(next, "config", renderConfigSection());
  return next;
}

if (import.meta.main) {
  const current = readFileSync(README, "utf8");
  const next = await generatedReadme(current);
  if (process.argv.includes("--check")) {
    if (next !== current) {
      console.error("README.md is out of date with the schema or the CLI: run `bun scripts/gen-docs.ts`.");
      process.exit(1);
    }
    console.log("README.md is up to date.");
  } else if (next !== current) {
    writeFileSync(README, next);
    console.log("README.md: cli and config sections regenerated.");
  } else console.log("README.md is already up to date.");
  process.exit(0);
}
