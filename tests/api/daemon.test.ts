// The control API in a real daemon process: /ws snapshot and events (upstream down, config edited on disk), CLI commands, promtool, body limit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { runCli } from "./cli.ts";
import { requireTools } from "../helpers/requires.ts";

let fake: FakeOllama;
let spare: FakeOllama;
let d: DaemonProc;
let token: string;
let api: string;

const config = (extra = "") => `[api]
listen = "127.0.0.1:0"
body_limit = 4096

[proxy]
listen = "127.0.0.1:0"

[health]
interval = "200ms"
down_interval = "200ms"
timeout = "5s"
failures_before_down = 1

[[upstreams]]
name = "local"
url = "${fake.url}"

[[upstreams]]
name = "spare"
url = "${spare.url}"
${extra}`;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 3 });
  spare = await startFakeOllama({ models: ["qwen:0.5b"], tokens: 3 });
  d = await startDaemon({ config: config(), waitFor: ["api", "broker"] });
  api = d.urls.api!;
  token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
}, 60_000);
afterAll(async () => {
  await d?.stop();
  await fake?.stop();
  await spare?.stop();
  if (d) removeHome(d.home);
});

const auth = () => ({ authorization: `Bearer ${token}` });

/** A /ws client that collects messages and can wait for one matching a predicate. */
async function openWs(headers: Record<string, string>) {
  const ws = new WebSocket(api.replace("http", "ws") + "/ws", { headers } as any);
  const messages: any[] = [];
  const waiters: { pred: (m: any) => boolean; resolve: (m: any) => void }[] = [];
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data));
    messages.push(m);
    for (const w of [...waiters]) if (w.pred(m)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(m));
  };
  await new Promise<void>((res, rej) => {
    ws.onopen = () => res();
    ws.onerror = () => rej(new Error("websocket failed"));
  });
  const next = (pred: (m: any) => boolean, timeoutMs = 10_000) => {
    const hit = messages.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise<any>((res, rej) => {
      const w = { pred, resolve: (m: any) => (clearTimeout(t), res(m)) };
      const t = setTimeout(() => rej(new Error(`no matching /ws message; got ${messages.map((m) => m.type).join(",")}`)), timeoutMs);
      waiters.push(w);
    });
  };
  return { ws, messages, next };
}

const cli = (...args: string[]) => runCli(d.env, ...args);
const cliApi = (...args: string[]) => cli(...args, "--url", api);

describe("control API in a real daemon", () => {
  test("/ws: snapshot first, then upstream down, config reloaded and config rejected (line, column) when the file is edited", async () => {
    const c = await openWs(auth());
    try {
      const first = await c.next(() => true);
      expect(first.type).toBe("snapshot");
      expect(first.data.upstreams.map((u: any) => u.name)).toEqual(["local", "spare"]);
      await c.next((m) => m.type === "metrics.tick");

      await spare.stop();
      const down = await c.next((m) => m.type === "upstream.state" && m.data.name === "spare" && m.data.to === "down");
      expect(down.seq).toBeGreaterThan(0);

      writeFileSync(d.configFile, config('\n[logging]\nlevel = "debug"\n'));
      const reloaded = await c.next((m) => m.type === "config.reloaded");
      expect(reloaded.data.sections).toContain("logging");

      writeFileSync(d.configFile, config('\n[logging]\nlevel = "debug"\n') + "\n[proxy\n");
      const rejected = await c.next((m) => m.type === "config.rejected");
      expect(rejected.data.line).toBe(config('\n[logging]\nlevel = "debug"\n').split("\n").length + 1);
      expect(rejected.data.column).toBeGreaterThan(0);
      expect(rejected.data.message.length).toBeGreaterThan(0);
    } finally {
      c.ws.close();
    }
    writeFileSync(d.configFile, config());
    await d.waitFor(/configuration reloaded.*sections=logging/);
  }, 60_000);

  test("every read route answers with the real services (responses match their schemas)", async () => {
    for (const p of ["/healthz", "/readyz", "/api/v1/status", "/api/v1/upstreams", "/api/v1/upstreams/local", "/api/v1/models", "/api/v1/metrics", "/api/v1/tunnel", "/api/v1/version?client=3.0.0", "/api/v1/events", "/api/v1/config", "/api/v1/config/backups", "/api/v1/config/export"]) {
      const r = await fetch(api + p, { headers: auth() });
      expect({ p, status: r.status }).toEqual({ p, status: 200 });
    }
    const check = await fetch(api + "/api/v1/upstreams/local/check", { method: "POST", headers: auth() });
    expect((await check.json()).state).toBe("up");
    const models = await (await fetch(api + "/api/v1/models")).json();
    expect(models).toContainEqual({ name: "llama3.2:1b", upstreams: ["local"], loaded: ["local"] });
  }, 60_000);

  test("/ws refuses a foreign Origin and a missing token over a real socket", async () => {
    await expect(openWs({ ...auth(), origin: "http://evil.example" })).rejects.toThrow();
    await expect(openWs({})).rejects.toThrow();
    const res = await fetch(api + "/ws", { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", origin: "http://evil.example", ...auth() } });
    expect(res.status).toBe(403);
    expect((await res.json()).error.code).toBe("origin_not_allowed");
  }, 60_000);

  test("a declared body over [api] body_limit is refused with 413 before it is read", async () => {
    const res = await fetch(api + "/api/v1/config/validate", { method: "POST", headers: { ...auth(), "content-type": "text/plain" }, body: "#".repeat(5000) });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe("payload_too_large");
  }, 60_000);

  requireTools(["promtool"]).test("promtool check metrics passes on /metrics after some traffic (broker histograms present)", async () => {
    const r = await fetch(d.urls.broker + "/api/generate", { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }) });
    expect(r.status).toBe(200);
    await r.text();
    const text = await (await fetch(api + "/metrics")).text();
    expect(text).toMatch(/_bucket\{[^}]*upstream="local"/);
    expect(text).toContain('cloudtolocalllm_upstream_up{upstream="local"} 1');
    const p = Bun.spawnSync(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
    expect(p.stdout.toString() + p.stderr.toString()).toBe("");
    expect(p.exitCode).toBe(0);
  }, 60_000);

  test("CLI: status table and --json, reconnect, tunnel refused while disabled, reload ok and rejected", async () => {
    const table = await cliApi("status");
    expect(table.code).toBe(0);
    expect(table.out).not.toContain("\x1b["); // not a TTY
    expect(table.out).toMatch(/^local\s+up\s+/m);
    expect(table.out).toMatch(/^spare\s+down\s+/m);
    expect(table.out).toContain("tunnel disabled");

    const json = await cliApi("status", "--json");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out).daemon.pid).toBe(d.proc.pid);

    const rc = await cliApi("reconnect");
    expect(rc.code).toBe(0);
    expect(rc.out).toContain("local: up");

    const tunnel = await cliApi("tunnel", "start");
    expect(tunnel.code).toBe(1);
    expect(tunnel.err).toContain("the tunnel is disabled in the config");
    expect((await cliApi("tunnel", "sideways")).code).toBe(2);

    expect((await cliApi("reload")).code).toBe(0);
    const good = readFileSync(d.configFile, "utf8");
    writeFileSync(d.configFile, good.replace("body_limit = 4096", "body_limit = 10").replace("timeout = \"5s\"", "timeout = \"soon\""));
    const bad = await cliApi("reload");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("tunnel.toml:3:1: api.body_limit: ");
    // Every problem, in the words and order of `config validate` (not only the first).
    const validate = await cli("config", "validate", d.configFile);
    expect(validate.code).toBe(2);
    expect(validate.err.trim().split("\n")).toHaveLength(2);
    expect(bad.err.trim().split("\n").slice(1)).toEqual(validate.err.trim().split("\n"));
    writeFileSync(d.configFile, good);

    const noDaemon = await cli("status", "--url", "http://127.0.0.1:9");
    expect(noDaemon.code).toBe(1);
    expect(noDaemon.err).toContain("cannot reach the daemon at http://127.0.0.1:9");
  }, 60_000);

  test("CLI: models lists every upstream's models, where each is and where it is loaded", async () => {
    const table = await cliApi("models");
    expect(table.code).toBe(0);
    // The fake Ollama reports its first model loaded (/api/ps), as a real one does after a request.
    expect(table.out.split("\n")[0]).toMatch(/^NAME\s+UPSTREAMS\s+LOADED$/);
    expect(table.out).toMatch(/^llama3\.2:1b\s+local\s+local$/m);
    // spare was stopped by the /ws test: its model is missing, and the reason is named.
    expect(table.out).not.toContain("qwen");
    expect(table.out).toMatch(/^spare is down \(.+\): its models are not listed$/m);
    const json = await cliApi("models", "--json");
    expect(JSON.parse(json.out)).toContainEqual({ name: "llama3.2:1b", upstreams: ["local"], loaded: ["local"] });
  }, 60_000);

  test("CLI without a token file says where it looked", async () => {
    const r = await runCli({ ...d.env, XDG_CONFIG_HOME: join(d.home, "elsewhere") }, "reconnect", "--url", api);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`no API token in ${join(d.home, "elsewhere")}`);
  }, 60_000);
});
