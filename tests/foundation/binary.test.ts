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
