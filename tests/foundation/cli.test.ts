// The `config` CLI as a user runs it: help on every subcommand, exit codes 0/1/2, one-sentence errors, and the store round trip.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, homeEnv, REPO, tempHome } from "../helpers/daemon.ts";

// Real processes on a busy machine: more than bun's 5 s default.
setDefaultTimeout(30_000);

const home = tempHome("c2l-cli-");
afterAll(() => rmSync(home, { recursive: true, force: true }));
const configFile = join(home, ".config/cloudtolocalllm/tunnel.toml");

function cli(args: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), ...args], { env: { ...homeEnv(home), ...env }, cwd: home });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}
const noStack = (s: string) => expect(s).not.toMatch(/^\s+at /m);

test("--help on config and on each subcommand", () => {
  const top = cli(["--help"]);
  expect(top.code).toBe(0);
  expect(top.out).toMatch(/^\s+config\s+Inspect/m);
  const cfg = cli(["config", "--help"]);
  expect(cfg.code).toBe(0);
  const subs = ["path", "show", "validate", "export", "import", "backup", "backups", "restore", "migrate"];
  for (const s of subs) expect(cfg.out).toMatch(new RegExp(`^  ${s}\\b`, "m"));
  for (const s of subs) {
    const h = cli(["config", s, "--help"]);
    expect(h.code).toBe(0);
    expect(h.out.startsWith(`Usage: cloudtolocalllm-tunnel config ${s}`)).toBe(true);
  }
});

test("exit codes: 2 for usage and validation errors, 1 for runtime failures, one sentence each", () => {
  const unknown = cli(["config", "frobnicate"]);
  expect(unknown.code).toBe(2);
  expect(unknown.err.trim().split("\n")).toHaveLength(1);
  expect(cli(["config", "valdate"]).err).toContain('unknown subcommand "valdate" (did you mean "validate"?)');
  expect(cli(["config", "show", "--bogus"]).code).toBe(2);
  // A value that starts with a dash (Bun's parser words it on three lines): one line, the code in brackets.
  const dash = cli(["key", "create", "editor", "--rpm", "-5"]);
  expect({ code: dash.code, lines: dash.err.trim().split("\n").length }).toEqual({ code: 2, lines: 1 });
  expect(dash.err).toMatch(/^cloudtolocalllm-tunnel key: Option '--rpm' argument is ambiguous\. .*\[usage\]\n$/);

  const bad = join(home, "bad.toml");
  writeFileSync(bad, '[[upstreams]]\nname = "a"\nurl = "htp://x"\n[helth]\n');
  const v = cli(["config", "validate", bad]);
  expect(v.code).toBe(2);
  expect(v.err).toBe(
    `${bad}:3:1: upstreams[0].url: "htp://x" is not a URL (expected http:// or https://)\n` + `${bad}:4:1: helth: unknown section [helth] (did you mean [health]?)\n`,
  );
  // A path it cannot read: why, in the words `serve` uses (before: "cannot read …: EISDIR.").
  const dir = cli(["config", "validate", home]);
  expect(dir.code).toBe(1);
  expect(dir.err).toContain(`cannot read ${home}: it is a directory, not a file (EISDIR).`);
  // The commands that ask the daemon: before, the defaults' address ("cannot reach the daemon at …:8765").
  const status = cli(["status", "--config", home]);
  expect(status.code).toBe(2);
  expect(status.err).toBe(`cloudtolocalllm-tunnel status: cannot read ${home}: it is a directory, not a file (EISDIR) [usage]\n`);
  const missing = cli(["config", "validate", join(home, "nope.toml")]);
  expect(missing.code).toBe(1);
  expect(missing.err).toBe(`cloudtolocalllm-tunnel config: ${join(home, "nope.toml")} does not exist.\n`);
  const restore = cli(["config", "restore", "20200101T000000000Z"]);
  expect(restore.code).toBe(1);
  for (const r of [unknown, v, missing, restore]) noStack(r.err);
});

test("validate applies the start's keys rule: a broker beyond loopback that needs a key, with no usable key on this machine, is invalid (as `serve` refuses it), valid once a key exists", () => {
  // What the first 3.0 builds ran (no require_key yet): the LAN shares the broker, no key made.
  const lan = join(home, "lan.toml");
  writeFileSync(lan, '[proxy]\nlisten = "0.0.0.0:11435"\n');
  const state = { XDG_STATE_HOME: join(home, "lan-state") };
  const v = cli(["config", "validate", lan], state);
  expect(v.code).toBe(2);
  expect(v.err).toBe(
    `${lan}: proxy.require_key: [proxy] listen = "0.0.0.0:11435" reaches other machines, and require_key = "auto" needs an API key that does not exist yet: create one with \`cloudtolocalllm-tunnel key create NAME\`, listen on 127.0.0.1, or set require_key = "never" to let that network in without keys\n`,
  );
  expect(cli(["key", "create", "laptop"], state).code).toBe(0);
  expect(cli(["config", "validate", lan], state)).toMatchObject({ code: 0, out: `${lan}: valid\n` });
  // The other rule README's "Upgrading" names: a ws:// relay on another machine, run by builds before allow_plaintext_relay.
  const ws = join(home, "ws.toml");
  writeFileSync(ws, '[tunnel]\nenabled = true\nrelay_url = "ws://relay.example.com/agent"\n');
  const w = cli(["config", "validate", ws], state);
  expect(w.code).toBe(2);
  expect(w.err).toStartWith(`${ws}:3:1: tunnel.relay_url: ws://relay.example.com is not encrypted`);
  expect(w.err).toContain("allow_plaintext_relay = true");
});

test("path follows --config and CLOUDTOLOCALLLM_CONFIG", () => {
  expect(cli(["config", "path"]).out.trim()).toBe(configFile);
  expect(cli(["config", "path"], { CLOUDTOLOCALLLM_CONFIG: "/tmp/x.toml" }).out.trim()).toBe("/tmp/x.toml");
  expect(cli(["config", "path", "--config", "/tmp/y.toml"], { CLOUDTOLOCALLLM_CONFIG: "/tmp/x.toml" }).out.trim()).toBe("/tmp/y.toml");
});

test("import, backups, restore, export and show through the CLI", () => {
  const a = join(home, "a.toml");
  writeFileSync(a, '[logging]\nlevel = "debug"\n[tunnel]\nrelay_url = "wss://relay.example/agent?token=s3cr3t-value"\n');
  expect(cli(["config", "import", a]).code).toBe(0);
  const b = join(home, "b.toml");
  writeFileSync(b, '[logging]\nlevel = "warn"\n');
  const imp = cli(["config", "import", b]);
  expect(imp.code).toBe(0);
  expect(imp.out).toMatch(/previous file saved as backup (\S+)\)/);
  const id = /backup (\S+)\)/.exec(imp.out)![1]!;
  expect(readFileSync(configFile, "utf8")).toContain('"warn"');

  const list = JSON.parse(cli(["config", "backups", "--json"]).out);
  expect(list.map((x: { id: string }) => x.id)).toContain(id);
  expect(cli(["config", "restore", id]).code).toBe(0);
  expect(readFileSync(configFile, "utf8")).toContain('"debug"');

  const exp = cli(["config", "export"]);
  expect(exp.code).toBe(0);
  expect(exp.out).not.toContain("s3cr3t-value");
  expect(cli(["config", "export", "--include-secrets"]).out).toContain("s3cr3t-value");
  const show = cli(["config", "show", "--json"]);
  expect(JSON.parse(show.out).logging.level).toBe("debug");
  expect(show.out).not.toContain("s3cr3t-value");

  // An invalid import is refused and changes nothing.
  const before = readFileSync(configFile, "utf8");
  writeFileSync(b, "[proxy]\nlisten = \"127.0.0.1:0\"\nmax_attempts = 99\n");
  const refused = cli(["config", "import", b]);
  expect(refused.code).toBe(2);
  expect(refused.err).toBe(`${b}:3:1: proxy.max_attempts: 99 is above the maximum 10\n`);
  expect(readFileSync(configFile, "utf8")).toBe(before);
});

test("config migrate carries the legacy files, stores the token as a secret, lists what it left", () => {
  const legacy = join(home, ".cloudtolocalllm");
  mkdirSync(legacy, { recursive: true });
  for (const f of ["tunnel_config.json", "connection_config.json"]) copyFileSync(join(REPO, "tests/fixtures/legacy", f), join(legacy, f));
  const r = cli(["config", "migrate"]);
  expect(r.code).toBe(0);
  expect(r.out).toContain("not carried:");
  expect(r.out).toContain("connection_config.json cloud_proxy.auth_token → secret \"tunnel-token\" (file)");
  const toml = readFileSync(configFile, "utf8");
  expect(toml).not.toContain("legacy-plaintext-token");
  expect(readFileSync(join(home, ".local/state/cloudtolocalllm/secrets.json"), "utf8")).toContain("legacy-plaintext-token");
  expect(cli(["config", "validate"]).code).toBe(0);
});

// ---- issue 24, item 13: the small things a user of ollama/npm expects from a command line. ----

test("-v prints the version, as --version and -V do", () => {
  const v = cli(["-v"]);
  expect(v.code).toBe(0);
  expect(v.out).toMatch(/^cloudtolocalllm-tunnel \d+\.\d+\.\d+/);
  expect(v.out).toBe(cli(["--version"]).out);
});

test("a mistyped option gets a \"did you mean\", as a mistyped command does", () => {
  const r = cli(["status", "--jsn"]);
  expect(r.code).toBe(2);
  expect(r.err).toBe(`cloudtolocalllm-tunnel status: Unknown option '--jsn' (did you mean "--json"?) [usage]\n`);
  expect(cli(["config", "show", "--jsno"]).err).toContain('(did you mean "--json"?)');
  // Before any command the options are serve's, but --version is what was meant.
  expect(cli(["--verison"]).err).toContain('(did you mean "--version"?)');
  // Nothing close: no guess.
  expect(cli(["status", "--frobnicate"]).err).toBe(`cloudtolocalllm-tunnel status: Unknown option '--frobnicate' [usage]\n`);
  // A mistyped command: the same exit and code as any other usage error.
  const cmd = cli(["stauts"]);
  expect(cmd.code).toBe(2);
  expect(cmd.err).toBe('cloudtolocalllm-tunnel: unknown command "stauts" (did you mean "status"?). Run `cloudtolocalllm-tunnel --help` for the list. [usage]\n');
});

test("a mistyped subcommand or action of every command gets a \"did you mean\", as `config`'s does (exit 2)", () => {
  // Before: "expected one of start, stop, restart, not \"strat\"", "unknown action \"craete\": use …", "Unexpected argument 'aprove'".
  const cases: [string[], string][] = [
    [["tunnel", "strat"], '(did you mean "start"?)'],
    [["key", "craete", "x"], 'unknown action "craete" (did you mean "create"?)'],
    [["secret", "lst"], 'unknown action "lst" (did you mean "list"?)'],
    [["relay", "chek"], 'unknown subcommand "chek" (did you mean "check"?)'],
    [["dashboard", "aprove"], 'unknown subcommand "aprove" (did you mean "approve"?)'],
  ];
  for (const [args, hint] of cases) {
    const r = cli(args);
    expect({ args, code: r.code, hinted: r.err.includes(hint) }).toEqual({ args, code: 2, hinted: true });
  }
  // Nothing close: no guess.
  expect(cli(["tunnel", "xyzzy"]).err).not.toContain("did you mean");
});

test("install from source names the README's build command", () => {
  const r = cli(["install"]);
  expect(r.code).toBe(2);
  expect(r.err).toContain("`npm run build`");
  expect(r.err).not.toContain("bun run build");
});

test("a config file that is a link to /dev/zero (or a huge log) is read no further than 1 MiB by the CLI, and refused in the daemon's words", () => {
  const link = join(home, "zero.toml");
  symlinkSync("/dev/zero", link);
  // Under an address-space cap: the CLI that read the file whole would otherwise take every byte of memory it could.
  const capped = (args: string[]) => {
    const r = Bun.spawnSync(["sh", "-c", 'ulimit -v 6000000; exec "$@"', "sh", BUN, join(REPO, "src/main.ts"), ...args], { env: homeEnv(home), cwd: home });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };
  const daemonWords = "a config file may be at most 1 MiB (check what was written into it)";
  // `config validate FILE` and `config show` (common.ts), `whoami` (local-auth.ts), `doctor` (doctor-files.ts).
  for (const args of [["config", "validate", link], ["config", "show", "--config", link], ["whoami", "--config", link]]) {
    const r = capped(args);
    expect({ args, code: r.code, err: r.err }).toMatchObject({ code: 2, err: expect.stringContaining(`the file is over 1 MiB; ${daemonWords}`) });
  }
  const doctor = capped(["doctor", "--config", link, "--json"]);
  const checks = (JSON.parse(doctor.out) as { checks: { name: string; level: string; detail: string }[] }).checks;
  expect(checks.find((c) => c.name === "Config")).toMatchObject({ level: "fail", detail: expect.stringContaining(`the file is over 1 MiB; ${daemonWords}`) });
});

test("`config import -` reads standard input no further than 1 MiB (a log piped in by mistake), and refuses it in the daemon's words; the config file is left as it was", () => {
  const before = Bun.spawnSync(["sh", "-c", 'cat "$0" 2>/dev/null || true', configFile]).stdout.toString();
  const r = Bun.spawnSync(["sh", "-c", 'head -c 64M /dev/zero | tr "\\0" "#" | "$0" "$1" config import -', BUN, join(REPO, "src/main.ts")], { env: homeEnv(home), cwd: home });
  // Before: read whole, "the file is 64.0 MiB".
  expect({ code: r.exitCode, err: r.stderr.toString() }).toMatchObject({ code: 2, err: expect.stringContaining("stdin: the file is over 1 MiB; a config file may be at most 1 MiB") });
  expect(Bun.spawnSync(["sh", "-c", 'cat "$0" 2>/dev/null || true', configFile]).stdout.toString()).toBe(before);
});
