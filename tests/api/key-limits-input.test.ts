// Limits too large for a key's record, through the CLI and the API: a clear error naming the option, and the keys file
// stays readable (a value written as null would leave every later key change refused).
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/api/app.ts";
import { createGatewayComponent } from "../../src/gateway/component.ts";
import { BUN, homeEnv, REPO } from "../helpers/daemon.ts";
import { AUTH, TOKEN, testEnv } from "./stubs.ts";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

test("key create: a limit past what a number holds exactly, or a lifetime past any date, is a usage error naming it; the keys file stays readable", () => {
  const home = mkdtempSync(join(tmpdir(), "c2l-keylim-"));
  dirs.push(home);
  const env = homeEnv(home);
  const key = (...args: string[]) => Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", ...args], { env, stdout: "pipe", stderr: "pipe" });
  const huge = "9".repeat(400);
  for (const [option, value] of [["--rpm", huge], ["--tokens-per-day", "9007199254740993"], ["--max-parallel", huge]] as const) {
    const r = key("create", "big", option, value);
    expect({ option, code: r.exitCode }).toEqual({ option, code: 2 });
    expect(r.stderr.toString()).toContain(`${option} takes a whole number up to 9007199254740991 (0 = no limit)`);
  }
  const far = key("create", "far", "--expires", "99999999999999d");
  expect(far.exitCode).toBe(2);
  expect(far.stderr.toString()).toContain('--expires "99999999999999d" is longer than 100 years');
  // Nothing was written, and a key with the largest limits is made and read back as made.
  const made = key("create", "max", "--rpm", "9007199254740991", "--expires", "5200w", "--json");
  expect(made.exitCode).toBe(0);
  expect(JSON.parse(made.stdout.toString()).rpm).toBe(9007199254740991);
  expect(key("create", "next").exitCode).toBe(0);
  const file = JSON.parse(readFileSync(join(home, ".local/state/cloudtolocalllm/keys.json"), "utf8")) as { keys: { name: string; rpm: number }[] };
  expect(file.keys.map((k) => [k.name, k.rpm])).toEqual([["max", 9007199254740991], ["next", 0]]);
});

test("POST /api/v1/keys: an expiry past any date is a 422 naming it, not a server error", async () => {
  const env = testEnv(`[api]\nlisten = "127.0.0.1:0"\n`);
  try {
    await createGatewayComponent(`${env.dir}/keys.json`, `${env.dir}/usage.json`)(env.daemon.ctx).start();
    const app = createApp(env.daemon.ctx, { token: () => TOKEN, docs: false });
    const post = (body: object) => app.handle(new Request("http://127.0.0.1/api/v1/keys", { method: "POST", headers: { ...AUTH, "content-type": "application/json" }, body: JSON.stringify(body) }));
    const r = await post({ name: "far", expires: "99999999999999d" });
    expect(r.status).toBe(422);
    expect(JSON.stringify(await r.json())).toContain('body.expires \\"99999999999999d\\" is longer than 100 years');
    expect((await post({ name: "near", expires: "30d" })).status).toBe(201);
  } finally {
    env.cleanup();
  }
});
