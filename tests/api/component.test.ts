// The API component: token file on first start (rotated by deleting it and reloading), listening log line, rebinding only when [api] listen changes.
import { changes } from "../../src/config/changes.ts";
import { afterEach, expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { createApiComponent } from "../../src/api/component.ts";
import { parseConfig } from "../../src/config/load.ts";
import { setLogSink } from "../../src/core/log.ts";
import { testEnv, type TestEnv } from "./stubs.ts";

let env: TestEnv | null = null;
afterEach(() => {
  setLogSink((line) => process.stderr.write(line + "\n"));
  env?.cleanup();
  env = null;
});

test("start makes the token, logs the URL; apply rebinds only when listen changes; security changes apply in place", async () => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  const base = (extra: string) => `[api]\nlisten = "127.0.0.1:0"\ntoken_file = "TOKEN_FILE"\n${extra}`;
  env = testEnv("");
  const tokenFile = join(env.dir, "api-token");
  const cfg = (extra = "") => {
    const r = parseConfig(base(extra).replace("TOKEN_FILE", tokenFile), env!.file);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    return r.config;
  };
  await env.daemon.runtime.replace(cfg());
  const c = createApiComponent(env.daemon.ctx);
  await c.start();
  try {
    const token = readFileSync(tokenFile, "utf8").trim();
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const url = /api: control API listening url=(\S+)/.exec(lines.join("\n"))![1]!;
    expect(lines.join("\n")).not.toContain(token);
    expect((await fetch(url + "/healthz")).status).toBe(200);
    // Its listen record is in the test's runtime dir (tests/api/stubs.ts), not in that of the user running the suite.
    expect(readdirSync(join(env.dir, "run/cloudtolocalllm"))).toEqual([expect.stringMatching(/^api-[0-9a-f]{16}\.json$/)]);

    // Security settings: same listener, new rule on the next request.
    const prev = env.daemon.ctx.config.current();
    const next = cfg('allowed_hosts = ["box.lan"]');
    await env.daemon.runtime.replace(next); // the daemon installs the config, then calls apply on each component
    await c.apply!(next, prev, changes(prev, next));
    expect((await fetch(url + "/healthz", { headers: { host: "box.lan" } })).status).toBe(200);
    expect(lines.filter((l) => l.includes("listening")).length).toBe(1);

    // A new listen address moves the listener.
    const moved = cfg('allowed_hosts = ["box.lan"]');
    moved.api.listen = "localhost:0";
    await env.daemon.runtime.replace(moved);
    await c.apply!(moved, next, changes(next, moved));
    const url2 = /api: control API listening url=(\S+)/.exec(lines.filter((l) => l.includes("listening")).at(-1)!)![1]!;
    expect(url2).not.toBe(url);
    expect((await fetch(url2 + "/healthz")).status).toBe(200);
    await expect(fetch(url + "/healthz")).rejects.toThrow();
    expect(readFileSync(tokenFile, "utf8").trim()).toBe(token);

    // Rotation: delete the file and reload; the new token works, the old one no longer does.
    rmSync(tokenFile);
    await env.daemon.runtime.replace(moved);
    await c.apply!(moved, moved, changes(moved, moved));
    const rotated = readFileSync(tokenFile, "utf8").trim();
    expect(rotated).not.toBe(token);
    const reconnect = (t: string) => fetch(url2 + "/api/v1/config", { headers: { authorization: `Bearer ${t}` } }).then((r) => r.status);
    expect(await reconnect(rotated)).toBe(200);
    expect(await reconnect(token)).toBe(401);
  } finally {
    await c.stop();
  }
}, 30_000);
