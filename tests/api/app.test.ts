// Every control API route and its error paths through app.handle(): no listener, stub broker and tunnel.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { Counter, Histogram } from "prom-client";
import { Value } from "@sinclair/typebox/value";
import type { TSchema } from "@sinclair/typebox";
import { createApp, type ApiApp } from "../../src/api/app.ts";
import * as schemas from "../../src/api/schemas.ts";
import { metricsRegistry } from "../../src/core/metrics-registry.ts";
import { parseConfig } from "../../src/config/load.ts";
import { AUTH, StubBroker, StubTunnel, TOKEN, testEnv, upstream, type TestEnv } from "./stubs.ts";

const BASE = "http://127.0.0.1:8765";
const TOML = `[api]
listen = "127.0.0.1:0"
allowed_origins = ["http://app.example:3000"]
allowed_hosts = ["box.lan"]
body_limit = 4096

[[upstreams]]
name = "local"
url = "http://user:hunter2secret@127.0.0.1:11434"

[[upstreams]]
name = "spare"
url = "http://127.0.0.1:11436"
`;

let env: TestEnv;
let app: ApiApp;
let broker: StubBroker;

beforeEach(async () => {
  env = testEnv(TOML);
  broker = new StubBroker([upstream("local", "up", ["llama3.2:1b", "qwen:0.5b"]), upstream("spare", "down", ["llama3.2:1b"])]);
  env.daemon.services.broker = broker;
  app = createApp(env.daemon.ctx, { token: () => TOKEN });
});
afterEach(() => env.cleanup());

async function call(method: string, path: string, init: { headers?: Record<string, string>; body?: BodyInit; base?: string } = {}) {
  const res = await app.handle(new Request((init.base ?? BASE) + path, { method, headers: init.headers, body: init.body }));
  const text = await res.text();
  let json: any = undefined;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

function expectError(r: { status: number; json: any }, status: number, code: string) {
  expect({ status: r.status, code: r.json?.error?.code }).toEqual({ status, code });
  expect(typeof r.json.error.message).toBe("string");
}

describe("health", () => {
  test("/healthz is open", async () => {
    const r = await call("GET", "/healthz");
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: "ok" });
  });
  test("/readyz is 200 with an upstream up, 503 with the reason otherwise", async () => {
    expect((await call("GET", "/readyz")).json).toEqual({ ready: true, reason: "upstream local up" });
    broker.list = [upstream("local", "down"), upstream("spare", "down")];
    const r = await call("GET", "/readyz");
    expect(r.status).toBe(503);
    expect(r.json.reason).toBe("no upstream is up (local, spare)");
    delete env.daemon.services.broker;
    expect((await call("GET", "/readyz")).json).toEqual({ ready: false, reason: "the broker is not running" });
  });
  test("/readyz in a tunnel-only setup follows the tunnel", async () => {
    broker.list = [];
    const r = parseConfig(`[proxy]\nenabled = false\n[tunnel]\nenabled = true\nrelay_url = "wss://relay.test/agent"\n`, env.file);
    if (!r.ok) throw new Error("bad config");
    await env.daemon.runtime.replace(r.config);
    const tunnel = new StubTunnel();
    env.daemon.services.tunnel = tunnel;
    expect((await call("GET", "/readyz")).json).toEqual({ ready: false, reason: "the tunnel is stopped (tunnel-only setup)" });
    tunnel.state = "connected";
    expect((await call("GET", "/readyz")).status).toBe(200);
  });
});

describe("status, upstreams, models, version, events", () => {
  test("GET /api/v1/status is the DaemonStatus", async () => {
    env.daemon.services.alerts = { active: () => [{ id: "upstream_down:spare", rule: "upstream_down", severity: "critical", subject: "spare", message: "spare is down", raisedAt: "2026-01-01T00:00:00Z" }] };
    const r = await call("GET", "/api/v1/status");
    expect(r.status).toBe(200);
    expect(r.json.daemon).toMatchObject({ pid: process.pid, configPath: env.file, lastReload: null });
    expect(r.json.upstreams.map((u: any) => [u.name, u.state])).toEqual([["local", "up"], ["spare", "down"]]);
    expect(r.json.tunnel.state).toBe("disabled");
    // spare is down: the headline is good at best, and the verdict names it with the reason and the fix.
    expect(r.json.quality).toBe("good");
    expect(r.json.verdict).toMatchObject({ quality: "good", level: "warning", upstream: "spare", reason: "connection refused" });
    expect(r.json.verdict.text).toContain("spare is down: connection refused — is Ollama running?");
    expect(r.json.alerts[0].id).toBe("upstream_down:spare");
    expect(r.json.auth).toEqual({ state: "disabled", subject: null, expiresAt: null });
  });
  test("without a broker the configured upstreams show as unknown, with a warning", async () => {
    delete env.daemon.services.broker;
    const r = await call("GET", "/api/v1/status");
    expect(r.json.upstreams.map((u: any) => [u.name, u.state])).toEqual([["local", "unknown"], ["spare", "unknown"]]);
    expect(r.json.warnings).toContain("the broker is not running");
  });
  test("upstreams: list, one, unknown name, check and reconnect (token required)", async () => {
    expect((await call("GET", "/api/v1/upstreams")).json).toHaveLength(2);
    expect((await call("GET", "/api/v1/upstreams/spare")).json.lastError).toBe("connection refused");
    const missing = await call("GET", "/api/v1/upstreams/nope");
    expectError(missing, 404, "not_found");
    expect(missing.json.error.message).toBe('no upstream named "nope" (configured: local, spare)');

    expectError(await call("POST", "/api/v1/upstreams/local/check"), 401, "unauthorized");
    expect(broker.calls).toEqual([]);
    const checked = await call("POST", "/api/v1/upstreams/local/check", { headers: AUTH });
    expect(checked.status).toBe(200);
    expect(checked.json.name).toBe("local");
    expectError(await call("POST", "/api/v1/upstreams/nope/check", { headers: AUTH }), 404, "not_found");

    expectError(await call("POST", "/api/v1/reconnect"), 401, "unauthorized");
    const rc = await call("POST", "/api/v1/reconnect", { headers: AUTH });
    expect(rc.status).toBe(200);
    expect(broker.calls).toEqual(["check:local", "reconnect"]);

    delete env.daemon.services.broker;
    expectError(await call("POST", "/api/v1/reconnect", { headers: AUTH }), 503, "unavailable");
  });
  test("models: merged list with the upstreams serving each and where each is loaded", async () => {
    broker.loaded = { spare: ["llama3.2:1b"] };
    expect((await call("GET", "/api/v1/models")).json).toEqual([
      { name: "llama3.2:1b", upstreams: ["local", "spare"], loaded: ["spare"] },
      { name: "qwen:0.5b", upstreams: ["local"], loaded: [] },
    ]);
    broker.loaded = {};
  });
  test("version with a compatibility verdict for ?client=", async () => {
    const plain = await call("GET", "/api/v1/version");
    expect(plain.json).toMatchObject({ protocolVersion: 2, apiVersion: "1" });
    expect(plain.json.client).toBeUndefined();
    const old = await call("GET", "/api/v1/version?client=2.4.0");
    expect(old.json.client).toMatchObject({ version: "2.4.0", compatible: false, level: "incompatible" });
    const same = await call("GET", `/api/v1/version?client=${plain.json.version}`);
    expect(same.json.client).toMatchObject({ compatible: true, level: "ok" });
  });
  test("events: the ring with limit, type filter and since; 422 names the query field", async () => {
    const ev = env.daemon.events;
    ev.emit("upstream.state", { name: "spare", from: "up", to: "down" });
    ev.emit("alert.raised", { id: "a", rule: "r", severity: "warning", subject: "s", message: "m", raisedAt: "t" });
    ev.emit("upstream.state", { name: "spare", from: "down", to: "up" });
    const all = await call("GET", "/api/v1/events");
    expect(all.json.map((e: any) => e.type)).toEqual(["upstream.state", "alert.raised", "upstream.state"]);
    expect((await call("GET", "/api/v1/events?limit=1")).json[0].data.to).toBe("up");
    expect((await call("GET", "/api/v1/events?type=alert.")).json).toHaveLength(1);
    expect((await call("GET", `/api/v1/events?since=${all.json[1].seq}`)).json).toHaveLength(1);
    const bad = await call("GET", "/api/v1/events?limit=0");
    expectError(bad, 422, "validation_failed");
    expect(bad.json.error.details[0].path).toBe("query.limit");
    const nan = await call("GET", "/api/v1/events?since=abc");
    expect(nan.json.error.details[0].path).toBe("query.since");
  });
});

describe("metrics", () => {
  test("GET /api/v1/metrics is JSON per upstream and tunnel", async () => {
    const r = await call("GET", "/api/v1/metrics");
    expect(r.json.upstreams.map((u: any) => u.name)).toEqual(["local", "spare"]);
    expect(r.json.upstreams[0].metrics.totalRequests).toBe(3);
    expect(r.json.tunnel.state).toBe("disabled");
  });
  test("GET /metrics is Prometheus text with the shared registry and the daemon gauges", async () => {
    // prom-client's own metrics render through the shared registry too (it loads prom-client at the scrape).
    const c = new Counter({ name: "c2l_apitest_requests_total", help: "test", labelNames: ["upstream"], registers: [] });
    const h = new Histogram({ name: "c2l_apitest_seconds", help: "test", labelNames: ["upstream"], buckets: [0.1, 1], registers: [] });
    metricsRegistry.registerMetric(c);
    metricsRegistry.registerMetric(h);
    try {
      c.inc({ upstream: "local" });
      h.observe({ upstream: "local" }, 0.2);
      const r = await call("GET", "/metrics");
      expect(r.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
      expect(r.text).toContain('c2l_apitest_requests_total{upstream="local"} 1');
      expect(r.text).toContain('c2l_apitest_seconds_bucket{le="1",upstream="local"} 1');
      expect(r.text).toContain('cloudtolocalllm_upstream_up{upstream="local"} 1');
      expect(r.text).toContain('cloudtolocalllm_upstream_up{upstream="spare"} 0');
      expect(r.text).toContain("cloudtolocalllm_tunnel_connected 0");
    } finally {
      metricsRegistry.removeSingleMetric("c2l_apitest_requests_total");
      metricsRegistry.removeSingleMetric("c2l_apitest_seconds");
    }
  });
});

describe("tunnel", () => {
  test("disabled in config: GET says so, actions are 409 tunnel_disabled (never a silent no-op)", async () => {
    expect((await call("GET", "/api/v1/tunnel")).json.state).toBe("disabled");
    const tunnel = new StubTunnel();
    env.daemon.services.tunnel = tunnel;
    for (const a of ["start", "stop", "restart"]) {
      const r = await call("POST", `/api/v1/tunnel/${a}`, { headers: AUTH });
      expectError(r, 409, "tunnel_disabled");
      expect(r.json.error.message).toContain("[tunnel] enabled = true");
    }
    expect(tunnel.calls).toEqual([]);
  });
  test("enabled: actions reach the TunnelControl; absent control is 409; no token is 401", async () => {
    const r = parseConfig(TOML + `\n[tunnel]\nenabled = true\nrelay_url = "wss://relay.test/agent"\n`, env.file);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    await env.daemon.runtime.replace(r.config);
    expectError(await call("POST", "/api/v1/tunnel/start", { headers: AUTH }), 409, "tunnel_disabled");
    const tunnel = new StubTunnel();
    env.daemon.services.tunnel = tunnel;
    expectError(await call("POST", "/api/v1/tunnel/start"), 401, "unauthorized");
    expect((await call("POST", "/api/v1/tunnel/start", { headers: AUTH })).json.state).toBe("connected");
    expect((await call("POST", "/api/v1/tunnel/stop", { headers: AUTH })).json.state).toBe("stopped");
    expect((await call("POST", "/api/v1/tunnel/restart", { headers: AUTH })).status).toBe(200);
    expect(tunnel.calls).toEqual(["start", "stop", "restart"]);
    expect((await call("GET", "/api/v1/tunnel")).json.relay).toBe("wss://relay.test/agent");
  });
});

describe("config", () => {
  const toml = (headers: Record<string, string> = {}) => ({ ...AUTH, "content-type": "application/toml", ...headers });

  test("reads need the token; GET redacts secrets", async () => {
    for (const p of ["/api/v1/config", "/api/v1/config/export", "/api/v1/config/backups"]) expectError(await call("GET", p), 401, "unauthorized");
    expectError(await call("GET", "/api/v1/config", { headers: { authorization: "Bearer wrong" } }), 401, "unauthorized");
    // The right length is not enough: one character changed is another token.
    expectError(await call("GET", "/api/v1/config", { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}X` } }), 401, "unauthorized");
    const r = await call("GET", "/api/v1/config", { headers: AUTH });
    expect(r.status).toBe(200);
    expect(r.text).not.toContain("hunter2secret");
    expect(r.json.redacted).toEqual(["upstreams[0].url"]);
    expect(r.json.config.api.body_limit).toBe(4096);
  });
  test("PUT TOML: validated, written with a backup, hot-applied, config.reloaded emitted", async () => {
    const seen: string[] = [];
    env.daemon.events.on("config.reloaded", (e) => seen.push(e.data.sections.join(",")));
    const next = TOML.replace("body_limit = 4096", "body_limit = 8192");
    const r = await call("PUT", "/api/v1/config", { headers: toml(), body: next });
    expect(r.status).toBe(200);
    expect(r.json.ok).toBe(true);
    expect(r.json.backup.id).toMatch(/^\d{8}T\d{9}Z/);
    expect(readFileSync(env.file, "utf8")).toBe(next);
    expect(env.daemon.ctx.config.current().api.body_limit).toBe(8192);
    expect(seen).toEqual(["api"]);
    const backups = await call("GET", "/api/v1/config/backups", { headers: AUTH });
    expect(backups.json.map((b: any) => b.id)).toEqual([r.json.backup.id]);
    expect(Object.keys(backups.json[0]).sort()).toEqual(["id", "size", "time"]);

    const restored = await call("POST", `/api/v1/config/backups/${r.json.backup.id}/restore`, { headers: AUTH });
    expect(restored.status).toBe(200);
    expect(env.daemon.ctx.config.current().api.body_limit).toBe(4096);
    expectError(await call("POST", "/api/v1/config/backups/20200101T000000000Z/restore", { headers: AUTH }), 404, "not_found");
    const badId = await call("POST", "/api/v1/config/backups/..%2Fetc/restore", { headers: AUTH });
    expectError(badId, 422, "validation_failed");
    expect(badId.json.error.details[0].path).toBe("params.id");
  });
  test("If-Match: a write based on an older read of the file is refused with 412 and writes nothing; the current ETag passes", async () => {
    const read = await call("GET", "/api/v1/config", { headers: AUTH });
    const tag = read.headers.get("etag")!;
    expect(tag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect((await call("GET", "/api/v1/config/export", { headers: AUTH })).headers.get("etag")).toBe(tag);
    // Someone edits the file by hand after our read (the daemon need not have applied it: the tag is the file's).
    const handEdit = TOML.replace("body_limit = 4096", "body_limit = 5000");
    writeFileSync(env.file, handEdit);
    const mine = TOML.replace("body_limit = 4096", "body_limit = 8192");
    for (const [method, path] of [["PUT", "/api/v1/config"], ["POST", "/api/v1/config/import"]] as const) {
      const stale = await call(method, path, { headers: toml({ "if-match": tag }), body: mine });
      expectError(stale, 412, "precondition_failed");
      expect(stale.json.error.message).toContain("changed since you read it");
      expect(readFileSync(env.file, "utf8")).toBe(handEdit);
    }
    // A weak tag never matches (strong comparison); a list holding the current tag does; so does *.
    const now = (await call("GET", "/api/v1/config", { headers: AUTH })).headers.get("etag")!;
    expect(now).not.toBe(tag);
    expectError(await call("PUT", "/api/v1/config", { headers: toml({ "if-match": `W/${now}` }), body: mine }), 412, "precondition_failed");
    expect(readFileSync(env.file, "utf8")).toBe(handEdit);
    const ok = await call("PUT", "/api/v1/config", { headers: toml({ "if-match": `${tag}, ${now}` }), body: mine });
    expect(ok.status).toBe(200);
    expect(readFileSync(env.file, "utf8")).toBe(mine);
    expect((await call("PUT", "/api/v1/config", { headers: toml({ "if-match": "*" }), body: TOML })).status).toBe(200);
    // Restore checks it too (the file is TOML again: the hand edit's tag is stale); a refused restore takes no backup.
    const backups = (await call("GET", "/api/v1/config/backups", { headers: AUTH })).json;
    const restore = await call("POST", `/api/v1/config/backups/${backups[0].id}/restore`, { headers: { ...AUTH, "if-match": now } });
    expectError(restore, 412, "precondition_failed");
    expect(readFileSync(env.file, "utf8")).toBe(TOML);
    expect((await call("GET", "/api/v1/config/backups", { headers: AUTH })).json.length).toBe(backups.length);
    // Without If-Match the last writer wins, as before.
    expect((await call("PUT", "/api/v1/config", { headers: toml(), body: mine })).status).toBe(200);
  });
  test("PUT invalid TOML: 422 with line and column; a semantic error names the field and its line; the file is untouched", async () => {
    const syntax = await call("PUT", "/api/v1/config", { headers: toml(), body: "[api]\nlisten = \n" });
    expectError(syntax, 422, "validation_failed");
    expect(syntax.json.error.details[0]).toMatchObject({ path: "", line: 2 });
    expect(syntax.json.error.details[0].column).toBeGreaterThan(0);
    const semantic = await call("PUT", "/api/v1/config", { headers: toml(), body: "[api]\nbody_limit = 10\n" });
    expectError(semantic, 422, "validation_failed");
    expect(semantic.json.error.details[0]).toMatchObject({ path: "api.body_limit", line: 2, column: 1 });
    expect(readFileSync(env.file, "utf8")).toBe(TOML);
  });
  test("PUT JSON: field paths on error; success writes TOML", async () => {
    const bad = await call("PUT", "/api/v1/config", {
      headers: { ...AUTH, "content-type": "application/json" },
      body: JSON.stringify({ upstreams: [{ name: "x", url: "not a url" }] }),
    });
    expectError(bad, 422, "validation_failed");
    expect(bad.json.error.details.map((d: any) => d.path)).toContain("upstreams[0].url");
    const good = await call("PUT", "/api/v1/config", {
      headers: { ...AUTH, "content-type": "application/json" },
      body: JSON.stringify({ upstreams: [{ name: "only", url: "http://127.0.0.1:11434" }] }),
    });
    expect(good.status).toBe(200);
    expect(readFileSync(env.file, "utf8")).toContain('name = "only"');
    expect(env.daemon.ctx.config.current().upstreams.map((u) => u.name)).toEqual(["only"]);
  });
  test("a config sent back as GET showed it keeps the secrets it hides (the dashboard's form); a [redacted] moved or edited is refused", async () => {
    const json = { ...AUTH, "content-type": "application/json" };
    const view = (await call("GET", "/api/v1/config", { headers: AUTH })).json.config;
    expect(view.upstreams[0].url).toBe("http://user:redacted@127.0.0.1:11434");
    // Redirected to another host, or handed to another upstream (the first one removed): never the old password.
    for (const upstreams of [
      [{ ...view.upstreams[0], url: "http://user:redacted@127.0.0.1:11499" }, view.upstreams[1]],
      [{ ...view.upstreams[1], url: view.upstreams[0].url }],
    ]) {
      const r = await call("PUT", "/api/v1/config", { headers: json, body: JSON.stringify({ ...view, upstreams }) });
      expectError(r, 422, "validation_failed");
      expect(r.json.error.details[0].path).toBe("upstreams[0].url");
    }
    expect(readFileSync(env.file, "utf8")).toContain("hunter2secret");
    // Sent back as shown, with one other change: applied, and the password is still the one in the file.
    const r = await call("PUT", "/api/v1/config", { headers: json, body: JSON.stringify({ ...view, proxy: { ...view.proxy, max_attempts: 2 } }) });
    expect(r.status).toBe(200);
    expect(env.daemon.ctx.config.current().upstreams[0]!.url).toBe("http://user:hunter2secret@127.0.0.1:11434");
    expect(env.daemon.ctx.config.current().proxy.max_attempts).toBe(2);
    expect(readFileSync(env.file, "utf8")).toContain("hunter2secret");
  });
  test("validate, export (redacted), import, reload", async () => {
    const v = await call("POST", "/api/v1/config/validate", { headers: toml(), body: "[api]\nlisten = \"nowhere\"\n" });
    expect(v.json.valid).toBe(false);
    expect(v.json.issues[0]).toMatchObject({ path: "api.listen", line: 2 });
    expect((await call("POST", "/api/v1/config/validate", { headers: toml(), body: TOML })).json).toEqual({ valid: true, issues: [] });

    const ex = await call("GET", "/api/v1/config/export", { headers: AUTH });
    expect(ex.headers.get("content-type")).toStartWith("application/toml");
    expect(ex.text).not.toContain("hunter2secret");
    expect((await call("GET", "/api/v1/config/export?include_secrets=true", { headers: AUTH })).text).toContain("hunter2secret");

    const im = await call("POST", "/api/v1/config/import", { headers: toml({ "content-type": "text/plain" }), body: TOML.replace("spare", "other") });
    expect(im.status).toBe(200);
    expect(env.daemon.ctx.config.current().upstreams[1]!.name).toBe("other");

    writeFileSync(env.file, TOML + "\n[proxy]\nmax_attempts = 99\n");
    const rl = await call("POST", "/api/v1/config/reload", { headers: AUTH });
    expectError(rl, 422, "validation_failed");
    expect(rl.json.error.details[0].path).toBe("proxy.max_attempts");
    expect([16, 17]).toContain(rl.json.error.details[0].line);
    writeFileSync(env.file, TOML);
    expect((await call("POST", "/api/v1/config/reload", { headers: AUTH })).json.ok).toBe(true);
  });
  test("validate answers what PUT would do: a JSON body that sets nothing (or that the router turns into {}) is invalid for both", async () => {
    const json = { ...AUTH, "content-type": "application/json" };
    for (const body of ["{}", '{"api": {}}', "[]", "1", "true"]) {
      const v = await call("POST", "/api/v1/config/validate", { headers: json, body });
      const put = await call("PUT", "/api/v1/config", { headers: json, body });
      expect({ body, valid: v.json.valid, put: put.status }).toEqual({ body, valid: false, put: 422 });
      expect(v.json.issues[0].message).toBe(put.json.error.details[0].message);
    }
    expect((await call("POST", "/api/v1/config/validate", { headers: json, body: JSON.stringify({ api: { listen: "127.0.0.1:0" } }) })).json).toEqual({ valid: true, issues: [] });
  });
  test("bodies: too large (declared and chunked) is 413, unknown type 415, broken JSON 400", async () => {
    const big = "x".repeat(5000);
    expectError(await call("PUT", "/api/v1/config", { headers: toml(), body: big }), 413, "payload_too_large");
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 6; i++) c.enqueue(new TextEncoder().encode("#".repeat(1000) + "\n"));
        c.close();
      },
    });
    expectError(await call("POST", "/api/v1/config/validate", { headers: toml(), body: stream }), 413, "payload_too_large");
    // A declared length over the limit is refused before any of the body is read: a client that declares a huge body
    // and sends nothing (or sends slowly) gets its 413 at once, not when (if ever) the bytes arrive.
    const silent = new ReadableStream<Uint8Array>({ pull: () => new Promise<void>(() => {}) });
    const declared = call("POST", "/api/v1/config/validate", { headers: toml({ "content-length": "999999" }), body: silent });
    let timer: Timer | undefined;
    const hung = new Promise<{ status: number; json: unknown }>((res) => (timer = setTimeout(() => res({ status: 0, json: { error: { code: "no answer in 3 s: the body was waited for" } } }), 3_000)));
    expectError(await Promise.race([declared, hung]), 413, "payload_too_large");
    clearTimeout(timer);
    expectError(await call("PUT", "/api/v1/config", { headers: toml({ "content-type": "image/png" }), body: "x" }), 415, "unsupported_media_type");
    expectError(await call("PUT", "/api/v1/config", { headers: toml({ "content-type": "application/json" }), body: "{oops" }), 400, "bad_request");
    expect(existsSync(env.file)).toBe(true);
  });
});

describe("security", () => {
  test("a foreign Host is refused on every route, open ones included (DNS rebinding)", async () => {
    for (const p of ["/healthz", "/api/v1/status", "/metrics"]) expectError(await call("GET", p, { base: "http://evil.example:8765" }), 403, "host_not_allowed");
    expectError(await call("GET", "/healthz", { headers: { host: "evil.example" } }), 403, "host_not_allowed");
    // Names that merely start like a loopback address are names (the broker's rule too: src/net/host.ts).
    for (const host of ["127.evil.example", "127.0.0.1.nip.io:8765", "localhost.evil.example", "0x7f.0.0.1", "box.lan.evil.example"])
      expectError(await call("GET", "/api/v1/status", { headers: { host } }), 403, "host_not_allowed");
    for (const host of ["localhost:8765", "127.0.0.1", "127.0.0.2:8765", "[::1]:8765", "box.lan:8765", "LOCALHOST", "Box.Lan."])
      expect((await call("GET", "/healthz", { headers: { host } })).status).toBe(200);
  });
  test("the host of [api] listen is accepted too (an IP literal cannot be rebound); a wildcard listen adds nothing", async () => {
    const lan = parseConfig(TOML.replace('listen = "127.0.0.1:0"', 'listen = "192.168.7.7:8765"'), env.file);
    if (!lan.ok) throw new Error("bad");
    await env.daemon.runtime.replace(lan.config);
    expect((await call("GET", "/healthz", { headers: { host: "192.168.7.7:8765" } })).status).toBe(200);
    // With a trailing dot an address is a name a resolver may look up, never the listened-on address (nor is
    // "127.0.0.1." loopback): refused here as on the broker's port, though the address itself is allowed.
    for (const host of ["192.168.7.7.", "192.168.7.7.:8765", "127.0.0.1.", "127.0.0.1.:8765"]) expectError(await call("GET", "/healthz", { headers: { host } }), 403, "host_not_allowed");
    const any = parseConfig(TOML.replace('listen = "127.0.0.1:0"', 'listen = "0.0.0.0:8765"'), env.file);
    if (!any.ok) throw new Error("bad");
    await env.daemon.runtime.replace(any.config);
    expectError(await call("GET", "/healthz", { headers: { host: "0.0.0.0:8765" } }), 403, "host_not_allowed");
    expectError(await call("GET", "/healthz", { headers: { host: "192.168.7.7:8765" } }), 403, "host_not_allowed");
  });
  test("CORS preflight: refused for an unlisted origin, allowed for a listed one", async () => {
    const pre = (origin: string) => ({ origin, "access-control-request-method": "PUT", "access-control-request-headers": "authorization" });
    const refused = await call("OPTIONS", "/api/v1/config", { headers: pre("http://evil.example") });
    expectError(refused, 403, "origin_not_allowed");
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    const ok = await call("OPTIONS", "/api/v1/config", { headers: pre("http://app.example:3000") });
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe("http://app.example:3000");
    expect(ok.headers.get("access-control-allow-headers")).toContain("Authorization");
    expect(ok.headers.get("vary")).toBe("Origin");
    // A listed origin's calls carry the token, never the dashboard cookie: no credentialed CORS (docs/api.md, Threat model).
    expect(ok.headers.get("access-control-allow-credentials")).toBeNull();
  });
  test("a request from a foreign page is refused; the API's own origin and listed ones get through", async () => {
    expectError(await call("GET", "/api/v1/status", { headers: { origin: "http://evil.example" } }), 403, "origin_not_allowed");
    const listed = await call("GET", "/api/v1/status", { headers: { origin: "http://app.example:3000" } });
    expect(listed.status).toBe(200);
    expect(listed.headers.get("access-control-allow-origin")).toBe("http://app.example:3000");
    expect((await call("GET", "/api/v1/status", { headers: { origin: BASE } })).status).toBe(200);
  });
  test("WebSocket upgrade: refused from a foreign Origin and without a token", async () => {
    const upgrade = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };
    expectError(await call("GET", "/ws", { headers: { ...upgrade, ...AUTH, origin: "http://evil.example" } }), 403, "origin_not_allowed");
    expectError(await call("GET", "/ws", { headers: { ...upgrade, origin: BASE } }), 401, "unauthorized");
  });
  test("security settings change with a reload, without a restart", async () => {
    const r = parseConfig(TOML.replace('allowed_hosts = ["box.lan"]', 'allowed_hosts = ["other.lan"]').replace("app.example:3000", "new.example"), env.file);
    if (!r.ok) throw new Error("bad");
    await env.daemon.runtime.replace(r.config);
    expectError(await call("GET", "/healthz", { headers: { host: "box.lan" } }), 403, "host_not_allowed");
    expect((await call("GET", "/healthz", { headers: { host: "other.lan" } })).status).toBe(200);
    expectError(await call("GET", "/api/v1/status", { headers: { origin: "http://app.example:3000" } }), 403, "origin_not_allowed");
  });
  test("sweep: every route not declared public (mutating ones, config reads, the inspector, /ws) refuses a request without the token", async () => {
    await app.modules;
    type R = { method: string; path: string; hooks?: { detail?: { security?: unknown[] } } };
    const routes = (app.routes as R[]).filter((r) => r.method !== "OPTIONS");
    const locked = routes.filter((r) => r.hooks?.detail?.security?.length !== 0);
    const mutating = routes.filter((r) => !["GET", "HEAD", "WS"].includes(r.method));
    expect(mutating.length).toBeGreaterThan(10);
    // The one public change: a page without a session asks for access (own Origin only, bounded, approved with the token).
    const publicChanges = mutating.filter((r) => r.hooks?.detail?.security?.length === 0).map((r) => `${r.method} ${r.path}`);
    expect(publicChanges).toEqual(["POST /auth/request"]);
    expect(locked).toEqual(expect.arrayContaining(mutating.filter((r) => r.path !== "/auth/request")));
    expect(locked.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining(["WS /ws", "GET /api/v1/config", "GET /api/v1/requests", "GET /api/v1/dashboard/history"]));
    const upgrade = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };
    for (const r of locked) {
      const path = r.path.replace(/:(\w+)/g, "x");
      const res = await call(r.method === "WS" ? "GET" : r.method, path, { headers: r.method === "WS" ? upgrade : {} });
      expect({ route: `${r.method} ${r.path}`, status: res.status }).toEqual({ route: `${r.method} ${r.path}`, status: 401 });
    }
    expect(broker.calls).toEqual([]);
  });
  test("errors are JSON with a stable code: unknown route 404", async () => {
    const r = await call("GET", "/api/v1/nope");
    expectError(r, 404, "not_found");
    expect(r.json.error.message).toBe("no route GET /api/v1/nope");
    expectError(await call("DELETE", "/api/v1/status", { headers: AUTH }), 404, "not_found");
  });
});

describe("swagger", () => {
  test("the examples in the shared schemas are valid instances of them", () => {
    let checked = 0;
    for (const [name, schema] of Object.entries(schemas)) {
      if (typeof schema !== "object" || !("examples" in schema)) continue;
      checked++;
      for (const ex of (schema as { examples: unknown[] }).examples) expect({ name, errors: [...Value.Errors(schema as TSchema, ex)].map((e) => e.path + " " + e.message) }).toEqual({ name, errors: [] });
    }
    expect(checked).toBeGreaterThanOrEqual(4);
  });
  test("the OpenAPI document lists every route with schemas; the UI page loads only local assets", async () => {
    await app.modules; // the docs module loads lazily
    const doc = (await call("GET", "/swagger/json")).json;
    for (const p of ["/healthz", "/readyz", "/api/v1/status", "/api/v1/upstreams/{name}/check", "/api/v1/tunnel/restart", "/api/v1/config/backups/{id}/restore", "/metrics", "/ws"])
      expect(Object.keys(doc.paths)).toContain(p);
    expect(doc.paths["/api/v1/status"].get.responses["200"].content["application/json"].schema).toBeDefined();
    // Protected is the default (the document's security); public routes say so on their own operation.
    expect(doc.security).toEqual([{ bearer: [] }, { session: [] }]);
    expect(doc.paths["/api/v1/reconnect"].post.security).toBeUndefined();
    expect(doc.paths["/api/v1/dashboard/code"].post.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/api/v1/status"].get.security).toEqual([]);
    expect(JSON.stringify(doc.paths["/api/v1/status"].get.responses["200"])).toContain("ada@example.com");
    const page = await call("GET", "/swagger");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(page.text).not.toMatch(/https?:\/\//);
    const js = await call("GET", "/swagger/assets/swagger-ui-bundle.js");
    expect(js.status).toBe(200);
    expect(js.text.length).toBeGreaterThan(100_000);
    expectError(await call("GET", "/swagger/assets/nope.js"), 404, "not_found");
  });
});
