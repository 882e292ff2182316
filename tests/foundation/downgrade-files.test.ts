// Files this build writes, read and written by the previous release after a downgrade (its CLI, a real process of
// BEFORE_SCHEDULING): the keys (with fields that release does not know) and the secrets file are read, and a key the
// old release adds keeps the newer fields of the others: nothing the new build wrote is lost on the way back.
import { afterAll, beforeAll, expect } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, homeEnv, tempHome } from "../helpers/daemon.ts";
import { BEFORE_SCHEDULING, commitPresent, oldRelease, type OldRelease } from "../helpers/old-release.ts";
import { requireTools } from "../helpers/requires.ts";

const { test } = requireTools(["git", commitPresent(BEFORE_SCHEDULING)]);

let old: OldRelease;
const home = tempHome("c2l-downgrade-");
const env = homeEnv(home);
beforeAll(() => {
  if (!commitPresent(BEFORE_SCHEDULING).available) return;
  old = oldRelease(BEFORE_SCHEDULING);
  mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
  writeFileSync(join(home, ".config/cloudtolocalllm/tunnel.toml"), '[secrets]\nbackend = "file"\n', { mode: 0o600 });
});
afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  if (old) rmSync(old.dir, { recursive: true, force: true });
});

function run(main: string, args: string[], stdin?: string) {
  const r = Bun.spawnSync([BUN, main, ...args], { env, cwd: home, stdout: "pipe", stderr: "pipe", stdin: stdin === undefined ? "ignore" : Buffer.from(stdin) });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}
const now = (...args: string[]) => run(join(REPO, "src/main.ts"), args);

test(`keys and secrets written by this build: the previous release (${BEFORE_SCHEDULING}) reads them, and its own write keeps what it does not know`, () => {
  expect(now("key", "create", "manager", "--allow-model-management", "--expires", "30d").code).toBe(0);
  expect(now("key", "create", "budget", "--tokens-per-day", "1000", "--rpm", "10").code).toBe(0);
  expect(run(join(REPO, "src/main.ts"), ["secret", "set", "upstream-key"], "s3cret\n").code).toBe(0);

  const list = run(old.main, ["key", "list"]);
  expect(list.code).toBe(0);
  expect(list.out).toMatch(/^manager\s/m);
  expect(list.out).toMatch(/^budget\s+\S+\s+all\s+10\s+1000\s/m);
  expect(run(old.main, ["secret", "get", "upstream-key"])).toMatchObject({ code: 0, out: "s3cret\n" });

  // The old release writes the keys file (a key of its own): the newer fields of the others survive it.
  expect(run(old.main, ["key", "create", "older"]).code).toBe(0);
  const manager = JSON.parse(now("key", "show", "manager", "--json").out) as { allow_model_management: boolean; expires_at: string | null };
  expect(manager.allow_model_management).toBe(true);
  expect(Date.parse(manager.expires_at!)).toBeGreaterThan(Date.now());
  expect(now("key", "list").out).toMatch(/^older\s/m);
});
