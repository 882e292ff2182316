// Integration: promises of docs/broker.md (Reloads, Health) and docs/configuration.md (Logging, the reload table) about reloads and checks ([proxy] max_attempts, listen and require_key, [quality], [health], [logging], a rebuilt upstream, a failed connection), through a real daemon.
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { apiToken, removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";
import { holdingUpstream } from "../helpers/holding-upstream.ts";

// Real processes on a busy machine: more than bun's 5 s default.
setDefaultTimeout(30_000);

let d: DaemonProc | null = null;
let home = "";
const fakes: FakeOllama[] = [];
const servers: { stop(force?: boolean): unknown }[] = [];
afterEach(async () => {
  await d?.stop();
  d = null;
  for (const f of fakes.splice(0)) f.stop();
  for (const s of servers.splice(0)) s.stop(true);
  if (home) removeHome(home);
});

const toml = (upstreams: string, extra: string) => `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n${extra}\n${upstreams}`;
const upstream = (name: string, url: string, priority: number) => `[[upstreams]]\nname = "${name}"\nurl = "${url}"\npriority = ${priority}\n`;

async function reload(dp: DaemonProc, text: string, sections: string): Promise<void> {
  const seen = dp.stderr().length;
  writeFileSync(dp.configFile, text);
  await until(() => dp.stderr().slice(seen).includes(`configuration reloaded sections=${sections}`), 10_000, `the reload of ${sections}`);
}

test("[proxy] max_attempts applies to the next request: one attempt, then three after the reload", async () => {
  const busy1 = await startFakeOllama({ failWith503: true });
  const busy2 = await startFakeOllama({ failWith503: true });
  const ok = await startFakeOllama();
  fakes.push(busy1, busy2, ok);
  const ups = upstream("busy1", busy1.url, 1) + upstream("busy2", busy2.url, 2) + upstream("ok", ok.url, 3);
  const health = `[health]\ninterval = "60s"\n`;
  home = tempHome();
  d = await startDaemon({ home, config: toml(ups, `max_attempts = 1\n${health}`) });
  await d.waitFor(/daemon: started/);
  const chat = () => fetch(`${d!.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: false }) });
  const one = await chat();
  expect(one.status).toBe(503);
  await one.text();
  expect(ok.requests.filter((r) => r.path === "/api/chat")).toHaveLength(0);
  await reload(d, toml(ups, `max_attempts = 3\n${health}`), "proxy");
  const three = await chat();
  expect(three.status).toBe(200);
  await three.text();
  expect([busy1, busy2, ok].map((f) => f.requests.filter((r) => r.path === "/api/chat").length)).toEqual([2, 1, 1]);
});

test("[quality] thresholds re-evaluate at once and [health] interval reschedules the checks, with no traffic and the next check a minute away", async () => {
  const f = await startFakeOllama();
  fakes.push(f);
  // In front of the fake: its checks answer after 40 ms, so the checks' latency (no traffic) is about that.
  const slow = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      await Bun.sleep(40);
      const u = new URL(req.url);
      return fetch(`${f.url}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, body: req.body });
    },
  });
  servers.push(slow);
  const ups = upstream("local", `http://127.0.0.1:${slow.port}`, 1);
  home = tempHome();
  d = await startDaemon({ home, config: toml(ups, `[health]\ninterval = "60s"\n`) });
  await d.waitFor(/daemon: started/);
  const token = await apiToken(d);
  const quality = async () => ((await (await fetch(`${d!.urls.api}/api/v1/upstreams`, { headers: { authorization: `Bearer ${token}` } })).json()) as { quality: string }[])[0]!.quality;
  await until(async () => (await quality()) === "excellent", 10_000, "local excellent");
  const versions = () => f.requests.filter((r) => r.path === "/api/version").length;
  const checks = versions();
  await reload(d, toml(ups, `[health]\ninterval = "60s"\n[quality]\ngood_latency_ms = 10\n`), "quality");
  await until(async () => (await quality()) === "good", 5_000, "local good after the [quality] reload");
  expect(versions()).toBe(checks);
  await reload(d, toml(ups, `[health]\ninterval = "300ms"\n[quality]\ngood_latency_ms = 10\n`), "health");
  await until(() => versions() >= checks + 3, 5_000, "three checks at the new interval");
});

test("[logging] requests and level apply at a reload: the request lines stop, and so do the info lines", async () => {
  const f = await startFakeOllama();
  fakes.push(f);
  const ups = upstream("local", f.url, 1);
  home = tempHome();
  d = await startDaemon({ home, config: toml(ups, `[health]\ninterval = "60s"\n`) });
  await d.waitFor(/daemon: started/);
  const token = await apiToken(d);
  const api = async <T>(path: string) => (await (await fetch(`${d!.urls.api}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()) as T;
  // A request, and the point where its record was emitted (it is counted): its line, if any, is written by then.
  const generate = async (n: number) => {
    const r = await fetch(`${d!.urls.broker}/api/generate`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }) });
    expect(r.status).toBe(200);
    await r.text();
    await until(async () => (await api<{ metrics: { totalRequests: number } }[]>("/api/v1/upstreams"))[0]!.metrics.totalRequests >= n, 5_000, `request ${n} counted`);
  };
  await generate(1);
  await until(() => /info request: .*200 POST \/api\/generate/.test(d!.stderr()), 5_000, "the request line");
  await reload(d, toml(ups, `[health]\ninterval = "60s"\n[logging]\nrequests = false\n`), "logging");
  let seen = d.stderr().length;
  await generate(2);
  expect(d.stderr().slice(seen)).not.toMatch(/request: /);
  // Warn and above only: the request line (info) and this reload's own info line are not written.
  const before = (await api<{ daemon: { lastReload: { at: string } } }>("/api/v1/status")).daemon.lastReload.at;
  seen = d.stderr().length;
  writeFileSync(d.configFile, toml(ups, `[health]\ninterval = "60s"\n[logging]\nrequests = true\nlevel = "warn"\n`));
  await until(async () => (await api<{ daemon: { lastReload: { at: string; ok: boolean } } }>("/api/v1/status")).daemon.lastReload.at !== before, 10_000, "the [logging] level reload");
  await generate(3);
  expect(d.stderr().slice(seen)).not.toMatch(/ info /);
});

test("a request in flight while a reload rebuilds its upstream still counts in that upstream's totals (they count since the daemon started)", async () => {
  const f = await startFakeOllama({ tokens: 20, tokenDelayMs: 50 });
  fakes.push(f);
  home = tempHome();
  d = await startDaemon({ home, config: toml(upstream("local", f.url, 1), `[health]\ninterval = "60s"\n`) });
  await d.waitFor(/daemon: started/);
  const token = await apiToken(d);
  const totals = async () => (await (await fetch(`${d!.urls.api}/api/v1/upstreams`, { headers: { authorization: `Bearer ${token}` } })).json()) as { metrics: { totalRequests: number; totalErrors: number } }[];
  const res = await fetch(`${d.urls.broker}/api/generate`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi" }) });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  await reader.read();
  // Its priority changed: the upstream is rebuilt while the stream runs on the object it started with.
  await reload(d, toml(upstream("local", f.url, 2), `[health]\ninterval = "60s"\n`), "upstreams");
  let text = "";
  for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
  expect(text).toContain('"done":true');
  await until(async () => (await totals())[0]!.metrics.totalRequests >= 1, 5_000, "the stream counted in the rebuilt upstream's totals");
  expect((await totals())[0]!.metrics.totalRequests).toBe(1);
});

test("[proxy] listen moved: an idle keep-alive connection to the old address is closed, not left serving the old socket", async () => {
  const f = await startFakeOllama();
  fakes.push(f);
  const ups = upstream("local", f.url, 1);
  home = tempHome();
  d = await startDaemon({ home, config: toml(ups, `[health]\ninterval = "60s"\n`) });
  await d.waitFor(/daemon: started/);
  const old = new URL(d.urls.broker!);
  let got = "";
  let closed = false;
  const socket = await Bun.connect({
    hostname: old.hostname,
    port: Number(old.port),
    socket: {
      data: (_s, b) => void (got += b.toString()),
      close: () => void (closed = true),
      end: () => void (closed = true),
    },
  });
  socket.write(`GET /api/version HTTP/1.1\r\nHost: ${old.host}\r\n\r\n`);
  await until(() => got.includes("\r\n\r\n") && got.startsWith("HTTP/1.1 200"), 5_000, "the first answer on the kept-alive connection");
  const text = toml(ups, `[health]\ninterval = "60s"\n`).replace(`[proxy]\nlisten = "127.0.0.1:0"`, `[proxy]\nlisten = "127.0.0.2:0"`);
  await reload(d, text, "proxy");
  await until(() => closed, 10_000, "the idle connection to the old address closed");
  socket.end();
});

test("[proxy] require_key made \"always\" while a keyless request waits in the queue: it is refused (401) when its turn comes, never reaching the upstream", async () => {
  const held = holdingUpstream();
  servers.push({ stop: () => held.stop() });
  const ups = `[[upstreams]]\nname = "h"\nurl = "${held.url}"\nmax_parallel = 1\n`;
  home = tempHome();
  d = await startDaemon({ home, config: toml(ups, `[health]\ninterval = "60s"\n`) });
  await d.waitFor(/daemon: started/);
  const token = await apiToken(d);
  const gen = () => fetch(`${d!.urls.broker}/api/generate`, { method: "POST", body: JSON.stringify({ model: "m", prompt: "hi", stream: true }) });
  const running = await gen();
  expect(running.status).toBe(200);
  const waiting = gen();
  await until(async () => ((await (await fetch(`${d!.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { queue?: { waiting: number } }).queue?.waiting === 1, 5_000, "one request waiting");
  await reload(d, toml(ups, `require_key = "always"\n[health]\ninterval = "60s"\n`), "proxy");
  held.releaseAll();
  await running.text();
  const refused = await waiting;
  expect(refused.status).toBe(401);
  expect(((await refused.json()) as { error: string }).error).toContain('require_key changed to "always" while the request waited in the queue');
  expect(held.open).toBe(0);
});

test("a failed connection to an upstream checks its health at once, not at the next interval a minute away", async () => {
  // Answers Ollama's probes; a generation's connection is reset before any answer (a crashed runner, a proxy cut off).
  const probes: string[] = [];
  const server = createServer((sock) => {
    let head = "";
    sock.on("data", (b) => {
      head += b.toString();
      if (!head.includes("\r\n\r\n")) return;
      const path = head.split(" ")[1] ?? "";
      if (head.startsWith("POST")) return void sock.resetAndDestroy();
      probes.push(path);
      const body = path === "/api/version" ? '{"version":"0.14.0"}' : '{"models":[{"name":"llama3.2:1b","model":"llama3.2:1b"}]}';
      sock.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
      head = "";
    });
    sock.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push({ stop: () => server.close() });
  const port = (server.address() as { port: number }).port;
  home = tempHome();
  d = await startDaemon({ home, config: toml(upstream("local", `http://127.0.0.1:${port}`, 1), `max_attempts = 1\n[health]\ninterval = "60s"\n`) });
  await d.waitFor(/daemon: started/);
  await until(() => probes.includes("/api/version"), 10_000, "the check at start");
  const before = probes.filter((p) => p === "/api/version").length;
  const r = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", messages: [], stream: false }) });
  expect(r.status).toBe(502);
  await r.text();
  await until(() => probes.filter((p) => p === "/api/version").length > before, 5_000, "a check right after the failed connection");
});
