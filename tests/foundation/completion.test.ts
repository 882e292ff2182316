// Shell completions as the shells run them: the bash script sourced in a real bash and its function called with
// COMP_WORDS/COMP_CWORD, the zsh and fish scripts parsed by zsh -n and fish -n; all three cover every command in the table.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, REPO } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { COMMANDS } from "../../src/cli/commands.ts";

const dir = mkdtempSync(join(tmpdir(), "c2l-completion-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]) {
  const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

function script(shell: string): string {
  const r = cli(["completion", shell]);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  const file = join(dir, `completion.${shell}`);
  writeFileSync(file, r.out);
  return file;
}

const bashFile = script("bash");

/** What bash offers for the command line `words` (the last word is the one being completed). */
function complete(...words: string[]): string[] {
  const line = ["cloudtolocalllm-tunnel", ...words];
  const quoted = line.map((w) => `'${w}'`).join(" ");
  const r = Bun.spawnSync(["bash", "--norc", "--noprofile", "-c", `source '${bashFile}'; cd '${dir}'; COMP_WORDS=(${quoted}); COMP_CWORD=${line.length - 1}; _cloudtolocalllm_tunnel; printf '%s\\n' "\${COMPREPLY[@]}"`], { stdout: "pipe", stderr: "pipe" });
  expect(r.stderr.toString()).toBe("");
  return r.stdout.toString().split("\n").filter(Boolean).sort();
}

test("bash: every command of the table, then each command's subcommands and options", () => {
  const top = complete("");
  for (const c of COMMANDS) expect(top).toContain(c.name);
  expect(top).toContain("--version");
  expect(complete("sta")).toEqual(["status"]);
  expect(complete("mod")).toEqual(["models"]);
  expect(complete("tunnel", "")).toEqual(["--config", "--help", "--url", "--wait", "restart", "start", "stop"]);
  // Once a subcommand is there, only options.
  expect(complete("tunnel", "start", "")).toEqual(["--config", "--help", "--url", "--wait"]);
  expect(complete("status", "--j")).toEqual(["--json"]);
  expect(complete("config", "val")).toEqual(["validate"]);
  // config's subcommands have their own options.
  expect(complete("config", "export", "--")).toContain("--include-secrets");
  expect(complete("completion", "")).toEqual(["--help", "bash", "fish", "zsh"]);
  expect(complete("key", "create", "x", "--t")).toEqual(["--tokens-per-day"]);
});

test("bash: file names after --config, nothing after a value option, and an option's value is not a command", () => {
  writeFileSync(join(dir, "tunnel.toml"), "");
  expect(complete("status", "--config", "tun")).toEqual(["tunnel.toml"]);
  expect(complete("-c", "tun")).toEqual(["tunnel.toml"]);
  expect(complete("status", "--url", "")).toEqual([]);
  // "--config tunnel" names a file, not the tunnel command: the command is still to come.
  expect(complete("--config", "tunnel", "sta")).toEqual(["status"]);
});

test("completion: an unknown shell is a usage error with a suggestion", () => {
  const r = cli(["completion", "zhs"]);
  expect(r.code).toBe(2);
  expect(r.err).toContain('unknown shell "zhs" (did you mean "zsh"?)');
  expect(cli(["completion"]).code).toBe(2);
});

test("zsh and fish scripts name every command", () => {
  for (const shell of ["zsh", "fish"]) {
    const text = cli(["completion", shell]).out;
    for (const c of COMMANDS) expect(text).toContain(shell === "zsh" ? `'${c.name}:` : `-a ${c.name} -d`);
  }
});

requireTools(["zsh"]).test("zsh -n accepts the zsh script", () => {
  const r = Bun.spawnSync(["zsh", "-n", script("zsh")], { stdout: "pipe", stderr: "pipe" });
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
});

requireTools(["fish"]).test("fish -n accepts the fish script, and fish offers the commands", () => {
  const file = script("fish");
  const r = Bun.spawnSync(["fish", "-n", file], { stdout: "pipe", stderr: "pipe" });
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
  const offered = Bun.spawnSync(["fish", "--no-config", "-c", `source '${file}'; complete -C 'cloudtolocalllm-tunnel sta'; complete -C 'cloudtolocalllm-tunnel tunnel '`], { stdout: "pipe", stderr: "pipe", env: { ...process.env, HOME: dir } });
  const out = offered.stdout.toString();
  expect(out).toMatch(/^status\t/m);
  expect(out).toMatch(/^restart$/m);
});
