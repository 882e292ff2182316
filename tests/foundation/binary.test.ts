// End to end: the compiled binary prints its version and commit, and with an empty HOME creates its default config, answers /healthz and exits 0 on SIGTERM within 2 s.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { ensureBinary } from "../helpers/binary.ts";
import { REPO } from "../helpers/daemon.ts";
import { NETNS_NEEDS, runInNetns } from "../helpers/netns.ts";
import { requireTools } from "../helpers/requires.ts";

let bin: string;
const homes: string[] = [];
beforeAll(async () => {
  bin = await ensureBinary();
}, 180_000);
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

requireTools(["git"]).test("--version prints the version and the git commit it was built from", () => {
  const r = Bun.spawnSync([bin, "--version"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  expect(r.exitCode).toBe(0);
  const out = r.stdout.toString();
  const m = /^cloudtolocalllm-tunnel (\S+) \(commit ([0-9a-f]{12})(-dirty)?, built (\S+)\)$/m.exec(out);
  expect(m).not.toBeNull();
  expect(m![1]).toBe(pkg.version);
  expect(Bun.spawnSync(["git", "cat-file", "-e", `${m![2]}^{commit}`], { cwd: REPO }).exitCode).toBe(0);
  expect(m![4]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  expect(readFileSync(`${bin}.sha256`, "utf8")).toMatch(/^[0-9a-f]{64} {2}cloudtolocalllm-tunnel\n$/);
});

test("the binary's CLI works without the sources: config validate reports a bad file with exit 2", () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-bin-"));
  homes.push(dir);
  const f = join(dir, "bad.toml");
  Bun.write(f, '[api]\nlisten = "127.0.0.1:70000"\n');
  const r = Bun.spawnSync([bin, "config", "validate", f], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir } });
  expect(r.exitCode).toBe(2);
  expect(r.stderr.toString()).toBe(`${f}:2:1: api.listen: "127.0.0.1:70000": port 70000 is out of range (0-65535)\n`);
});

// The build passes --no-compile-autoload-dotenv and --no-compile-autoload-bunfig: a .env or bunfig.toml in whatever
// directory the binary starts in (a cloned repository, a download folder) must not change what it does.
test("a .env and a bunfig.toml in the working directory change nothing in the binary (they do for bun running the source)", () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-cwd-"));
  homes.push(dir);
  Bun.write(join(dir, ".env"), `CLOUDTOLOCALLLM_CONFIG=${dir}/planted.toml\nXDG_CONFIG_HOME=${dir}/planted\n`);
  Bun.write(join(dir, "bunfig.toml"), 'preload = ["./planted.ts"]\n');
  Bun.write(join(dir, "planted.ts"), `require("node:fs").writeFileSync(${JSON.stringify(join(dir, "PRELOADED"))}, "x");\n`);
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: join(dir, "home") };
  const bin_ = Bun.spawnSync([bin, "config", "path"], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
  expect({ code: bin_.exitCode, out: bin_.stdout.toString(), err: bin_.stderr.toString() }).toEqual({ code: 0, out: `${join(dir, "home/.config/cloudtolocalllm/tunnel.toml")}\n`, err: "" });
  expect(existsSync(join(dir, "PRELOADED"))).toBe(false);
  // The planted files are live: bun itself, running the same command from source there, obeys both.
  const src = Bun.spawnSync([process.execPath, join(REPO, "src/main.ts"), "config", "path"], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
  expect(src.stdout.toString()).toBe(`${dir}/planted.toml\n`);
  expect(existsSync(join(dir, "PRELOADED"))).toBe(true);
});

// The default config listens on 8765 and 11435, which tests must never take on the host: a private network namespace has its own.
requireTools(NETNS_NEEDS).test("with an empty HOME: writes the commented default config, answers /healthz, exits 0 on SIGTERM within 2 s", async () => {
  const home = mkdtempSync(join(tmpdir(), "c2l-empty-home-"));
  homes.push(home);
  const run = await runInNetns([bin, "serve"], { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home });
  const file = join(home, ".config/cloudtolocalllm/tunnel.toml");
  expect(run.stderr).toContain(`created the default configuration file=${file}`);
  expect(run.health).toEqual({ status: 200, body: expect.stringContaining("ok") });
  expect(run.exitCode).toBe(0);
  expect(run.stopMs).toBeLessThan(2000);
  expect(existsSync(file)).toBe(true);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(readFileSync(file, "utf8")).toContain("# Address of the control API");
  // One line per event; stderr is a pipe here, so plain lines: "ISO-time level component: message" (src/core/log.ts).
  for (const line of run.stderr.trim().split("\n")) expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z (debug|info|warn|error) [\w.-]+: /);
}, 60_000);
