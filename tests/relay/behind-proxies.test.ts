// The relay behind the docs' reverse proxies, HAProxy and nginx as docs/relay-cluster.md configures them (and nginx with
// the upstream keepalive users add): keep-alive reuse as the relay's idle timer fires, streams that stay streams, the
// agent's WebSocket across a proxy reload, and a client's forwarding headers, which name no one to the relay.
import { expect } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect as tcp, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashToken } from "../../src/relay/auth.ts";
import { serveStream } from "../../src/protocol/http-over-stream.ts";
import { connect, type Connection } from "../../src/tunnel/connector.ts";
import { startFakeOllama } from "../helpers/fake-ollama.ts";
import { startLatencyLink, type LatencyLink } from "../helpers/latency-link.ts";
import { spawnLogged, type LoggedProc } from "../helpers/process.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { ADMIN_TOKEN, AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { DIALECTS, streamingCall, tokensIn } from "../tunnel/resume-helpers.ts";
import { docBlock, haproxyConfigFromDocs, startHaproxy, startNginx, type TestProxy } from "./cluster-helpers.ts";

const { test, beforeAll, afterAll } = requireTools(["haproxy", "nginx"]);

/** Tunnels whose agents connect through a proxy (the WebSocket tests), each with its own token. */
const VIA = { haproxy: "via-haproxy", nginx: "via-nginx" } as const;
/** Tunnels whose agents connect over wss:// to a proxy that terminates TLS with the docs' own lines. */
const TLS_VIA = { haproxy: "tls-haproxy", nginx: "tls-nginx" } as const;
const viaToken = (id: string) => `${id}-agent-token-0123456789`;
const viaTunnels = [...Object.values(VIA), ...Object.values(TLS_VIA)]
  .map((id) => `\n[[tunnels]]\nid = "${id}"\nagent_token_sha256 = "${hashToken(viaToken(id))}"\nclient_key_sha256 = ["${hashToken(CLIENT_KEY)}"]\n`)
  .join("");

let relay: RelayProc;
let agent: Connection;
let link: LatencyLink;
let haproxy: TestProxy;
let nginx: TestProxy;
let pooled: TestProxy;
const extra: { procs: LoggedProc[]; conns: Connection[]; dirs: string[] } = { procs: [], conns: [], dirs: [] };
/** Answers the test holds open after their first line, by the id in x-test-hold: resolving one sends the rest. */
const gates = new Map<string, () => void>();

/** The agent's answer: one NDJSON line or SSE event, or (x-test-hold) a first one, then the rest once the test says so. */
async function answer(req: Request): Promise<Response> {
  const sse = new URL(req.url).pathname.startsWith("/v1/");
  const line = (i: number, done: boolean) => (sse ? `data: {"i":${i}}\n\n${done ? "data: [DONE]\n\n" : ""}` : `{"i":${i},"done":${done}}\n`);
  const headers = { "content-type": sse ? "text/event-stream" : "application/x-ndjson" };
  const id = req.headers.get("x-test-hold");
  if (!id) return new Response(line(0, true), { headers });
  const gate = new Promise<void>((resolve) => gates.set(id, resolve));
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(c) {
      c.enqueue(enc.encode(line(0, false)));
      await gate;
      c.enqueue(enc.encode(line(1, true)));
      c.close();
    },
  });
  return new Response(body, { headers });
}

function agentVia(url: string, token: string): Promise<Connection> {
  return connect({
    url: `${url.replace(/^http/, "ws")}/agent`,
    token,
    agent: "behind-proxies-test",
    heartbeatMs: 300,
    toleranceMs: 1200,
    maxStreams: 64,
    onStream: (s) => void serveStream(s, answer),
  });
}

beforeAll(async () => {
  relay = await startRelayProc(relayToml({ limits: 'idle_timeout = "1s"' }) + viaTunnels);
  agent = await agentVia(relay.url, AGENT_TOKEN);
  // The proxies reach the relay across 50 ms (another host): its close reaches them that late, as on a real network.
  link = await startLatencyLink(relay.port, 50);
  [haproxy, nginx, pooled] = await Promise.all([startHaproxy([link]), startNginx([link]), startNginx([link], "keepalive 16;")]);
}, 30_000);

afterAll(async () => {
  for (const c of [agent, ...extra.conns]) c?.close("test over");
  for (const p of [haproxy, nginx, pooled]) await p?.stop();
  for (const p of extra.procs) await p.stop("SIGKILL");
  link?.stop();
  await relay?.stop("SIGKILL");
  cleanup(...extra.dirs);
});

/** One keep-alive client connection: each request's status once its answer is whole, or "closed" when the proxy closed it instead. */
function client(port: number) {
  const s: Socket = tcp(port, "127.0.0.1");
  s.on("error", () => {});
  let buf = "";
  let waiter: ((status: string) => void) | null = null;
  const settle = (v: string) => {
    waiter?.(v);
    waiter = null;
  };
  s.on("data", (d) => {
    buf += d.toString("latin1");
    const sep = buf.indexOf("\r\n\r\n");
    if (sep < 0) return;
    const len = /\r\ncontent-length: *(\d+)/i.exec(buf.slice(0, sep));
    if (len ? buf.length >= sep + 4 + Number(len[1]) : buf.includes("\r\n0\r\n\r\n", sep)) {
      const status = buf.slice(9, 12);
      buf = "";
      settle(status);
    }
  });
  s.on("close", () => settle("closed"));
  return {
    send(head: string, body = ""): Promise<string> {
      return new Promise((resolve) => {
        waiter = resolve;
        s.write(`${head}\r\nHost: relay.example.com\r\n${body ? `Content-Length: ${body.length}\r\n` : ""}\r\n${body}`);
      });
    },
    close: () => s.destroy(),
  };
}

/**
 * A keep-alive connection straight to the relay in the state the proxy's connection is in after /healthz: resolves when
 * the relay closes it (before the fix: when its idle timer fires, on the same 4 s tick of Bun's as the proxy's one).
 */
function relayClosedIdleConnection(): Promise<void> {
  const s = tcp(relay.port, "127.0.0.1", () => s.write("GET /healthz HTTP/1.1\r\nHost: relay.example.com\r\n\r\n"));
  s.on("error", () => {});
  s.resume(); // read (and drop) the answer: a close is only seen by a socket that reads
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("the relay never closed an idle connection after /healthz")), 12_000);
    s.on("close", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

const CHAT = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] });

/** A call that is not admitted (/healthz), then a chat on the same client connection the moment the relay's idle timer fires. */
async function chatAsTheTimerFires(proxy: TestProxy): Promise<string[]> {
  const c = client(proxy.port);
  try {
    const first = await c.send("GET /healthz HTTP/1.1");
    await relayClosedIdleConnection();
    const chat = await c.send(`POST /t/${TUNNEL_ID}/api/chat HTTP/1.1\r\nAuthorization: Bearer ${CLIENT_KEY}\r\nContent-Type: application/json`, CHAT);
    return [first, chat];
  } finally {
    c.close();
  }
}

test("a chat sent through HAProxy and nginx as the relay's idle timer fires is answered (the relay never closes a connection a proxy may reuse)", async () => {
  const proxies = { "HAProxy (docs)": haproxy, "nginx (docs)": nginx, "nginx (docs + keepalive 16)": pooled };
  const names = Object.keys(proxies) as (keyof typeof proxies)[];
  // Two rounds, each proxy at once: the relay's timer ticks for all of them together.
  for (let round = 0; round < 2; round++) {
    const results = await Promise.all(names.map((n) => chatAsTheTimerFires(proxies[n])));
    expect(Object.fromEntries(names.map((n, i) => [n, results[i]]))).toEqual(Object.fromEntries(names.map((n) => [n, ["200", "200"]])));
  }
}, 60_000);

test("an upload refused before its body is read (a wrong key) is answered 401 through each proxy, not reset into a 502", async () => {
  // Proxies straight at the relay: the latency link would take the body in whatever the relay does with it.
  const direct = await Promise.all([startHaproxy([relay]), startNginx([relay]), startNginx([relay], "keepalive 16;")]);
  extra.procs.push(...direct);
  const statuses: Record<string, (number | string)[]> = {};
  for (const [name, p] of Object.entries({ relay: { url: relay.url }, haproxy: direct[0], nginx: direct[1], pooled: direct[2] })) {
    statuses[name] = [];
    for (const chunked of [false, true]) {
      const size = 8 * 1024 * 1024;
      const body = chunked
        ? new ReadableStream<Uint8Array>({
            start(c) {
              for (let i = 0; i < size; i += 256 * 1024) c.enqueue(new Uint8Array(256 * 1024));
              c.close();
            },
          })
        : new Uint8Array(size);
      const r = await fetch(`${p.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers: { authorization: "Bearer not-the-key" }, body, duplex: "half" } as RequestInit).then(
        async (r) => (await r.arrayBuffer(), r.status),
        (e: Error) => e.message,
      );
      statuses[name]!.push(r);
    }
  }
  expect(statuses).toEqual({ relay: [401, 401], haproxy: [401, 401], nginx: [401, 401], pooled: [401, 401] });
}, 60_000);

/** Through `proxy`: whether the answer's first line reached the client while the agent still held back the last, and the whole body. */
async function firstLineWhileHeld(proxy: TestProxy, path: string): Promise<{ early: boolean; first: string; body: string }> {
  const id = crypto.randomUUID();
  let released = false;
  // A proxy that buffered would show nothing until the end: the agent then sends the rest anyway, after 5 s.
  const fallback = setTimeout(() => {
    released = true;
    gates.get(id)?.();
  }, 5_000);
  const res = await fetch(`${proxy.url}/t/${TUNNEL_ID}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json", "x-test-hold": id },
    body: CHAT,
  });
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  const first = dec.decode((await reader.read()).value);
  const early = !released;
  clearTimeout(fallback);
  gates.get(id)!();
  let body = first;
  for (let r; !(r = await reader.read()).done; ) body += dec.decode(r.value);
  return { early, first, body };
}

test("NDJSON and SSE stay streams through HAProxy and nginx: the first line arrives while the agent holds back the last", async () => {
  for (const [name, proxy] of Object.entries({ haproxy, nginx, pooled })) {
    const ndjson = await firstLineWhileHeld(proxy, "/api/chat");
    expect({ name, early: ndjson.early, first: ndjson.first }).toEqual({ name, early: true, first: '{"i":0,"done":false}\n' });
    expect(ndjson.body).toBe('{"i":0,"done":false}\n{"i":1,"done":true}\n');
    const sse = await firstLineWhileHeld(proxy, "/v1/chat/completions");
    expect({ name, early: sse.early, first: sse.first }).toEqual({ name, early: true, first: 'data: {"i":0}\n\n' });
    expect(sse.body).toBe('data: {"i":0}\n\ndata: {"i":1}\n\ndata: [DONE]\n\n');
  }
}, 60_000);

test("an answer silent past the relay's idle timer (a model loading) goes on through HAProxy and nginx", async () => {
  const dec = new TextDecoder();
  const bodies = await Promise.all(
    [haproxy, nginx, pooled].map(async (p) => {
      const id = crypto.randomUUID();
      const res = await fetch(`${p.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${CLIENT_KEY}`, "x-test-hold": id }, body: CHAT });
      const reader = res.body!.getReader();
      let body = dec.decode((await reader.read()).value);
      // 5 s of silence: past the 1 s idle timeout and the 4 s tick Bun fires it on.
      await Bun.sleep(5_000);
      gates.get(id)!();
      for (let r; !(r = await reader.read()).done; ) body += dec.decode(r.value);
      return body;
    }),
  );
  expect(bodies).toEqual(Array(3).fill('{"i":0,"done":false}\n{"i":1,"done":true}\n'));
}, 30_000);

/** When the relay's listing says the tunnel's agent connected (it changes only when the agent reconnects). */
async function connectedAt(id: string): Promise<string | undefined> {
  const r = await fetch(`${relay.url}/api/tunnels`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  return ((await r.json()) as { tunnels: { id: string; connectedAt: string }[] }).tunnels.find((t) => t.id === id)?.connectedAt;
}

async function chatVia(proxy: TestProxy, id: string): Promise<number> {
  const r = await fetch(`${proxy.url}/t/${id}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${CLIENT_KEY}` }, body: CHAT });
  await r.arrayBuffer();
  return r.status;
}

test("an agent's WebSocket and an answer in flight through HAProxy and nginx outlive a reload of the proxy; calls go on through the reloaded proxy", async () => {
  const viaH = await agentVia(haproxy.url, viaToken(VIA.haproxy));
  const viaN = await agentVia(nginx.url, viaToken(VIA.nginx));
  extra.conns.push(viaH, viaN);
  const before = { h: await connectedAt(VIA.haproxy), n: await connectedAt(VIA.nginx) };
  expect(before.h).toBeString();
  expect(before.n).toBeString();
  // Heartbeats every 300 ms cross both proxies for a while first (the docs' tunnel timeouts are 1 h).
  await Bun.sleep(1_500);
  expect([await chatVia(haproxy, VIA.haproxy), await chatVia(nginx, VIA.nginx)]).toEqual([200, 200]);
  // And an answer in flight through each proxy, its first line read, the rest held back by the agent across the reload.
  const dec = new TextDecoder();
  const inFlight = await Promise.all(
    [haproxy, nginx].map(async (p) => {
      const id = crypto.randomUUID();
      const res = await fetch(`${p.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${CLIENT_KEY}`, "x-test-hold": id }, body: CHAT });
      const reader = res.body!.getReader();
      return { id, reader, body: dec.decode((await reader.read()).value) };
    }),
  );

  // nginx: SIGHUP to the master (nginx -s reload) starts a new worker; the old one keeps its upgraded connections.
  const workers = () => readFileSync(`/proc/${nginx.proc.pid}/task/${nginx.proc.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
  const oldWorkers = workers();
  nginx.proc.kill("SIGHUP");
  await until(() => workers().some((w) => !oldWorkers.includes(w)), 10_000, "nginx to start a new worker on reload");
  // HAProxy: a new process on the same config takes over the port (-sf: the old one finishes its connections, then leaves).
  const dir = mkdtempSync(join(tmpdir(), "c2l-haproxy-reload-"));
  extra.dirs.push(dir);
  writeFileSync(join(dir, "haproxy.cfg"), haproxyConfigFromDocs(haproxy.port, [link]));
  const next = spawnLogged(["haproxy", "-db", "-f", join(dir, "haproxy.cfg"), "-sf", String(haproxy.proc.pid)], { env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/bin" }, label: "haproxy (reloaded)" });
  extra.procs.push(next);
  // The new process answers on the port (the old one has stopped listening once it did).
  await until(async () => (await fetch(`${haproxy.url}/healthz`).then((r) => r.status).catch(() => 0)) === 200 && next.proc.exitCode === null, 10_000, "the reloaded HAProxy to answer");

  // The answers in flight finish through the old worker or process, every line once.
  for (const f of inFlight) gates.get(f.id)!();
  const bodies = await Promise.all(
    inFlight.map(async (f) => {
      for (let r; !(r = await f.reader.read()).done; ) f.body += dec.decode(r.value);
      return f.body;
    }),
  );
  expect(bodies).toEqual(Array(2).fill('{"i":0,"done":false}\n{"i":1,"done":true}\n'));
  // Calls through the reloaded proxies reach the same agent connections: neither agent reconnected.
  await Bun.sleep(1_500);
  expect([await chatVia(haproxy, VIA.haproxy), await chatVia(nginx, VIA.nginx)]).toEqual([200, 200]);
  expect({ h: await connectedAt(VIA.haproxy), n: await connectedAt(VIA.nginx) }).toEqual(before);
  const closedYet = await Promise.race([Promise.any([viaH.closed, viaN.closed]).then(() => true), Bun.sleep(10).then(() => false)]);
  expect(closedYet).toBe(false);
}, 60_000);

test("behind HAProxy a client's X-Forwarded-For (or Forwarded, X-Real-IP, CF-Connecting-IP) names no one: it dodges no limit, and the log names the connection's peer; calls without the key use up none of the limit", async () => {
  // Its own relay: 3 calls a minute for the tunnel, behind the docs' HAProxy (which adds no forwarding header of its own).
  const limited = await startRelayProc(relayToml().replace("requests_per_minute = 100000", "requests_per_minute = 3"));
  extra.procs.push(limited);
  extra.dirs.push(limited.dir);
  extra.conns.push(await agentVia(limited.url, AGENT_TOKEN));
  const lb = await startHaproxy([limited]);
  extra.procs.push(lb);
  const spoofs: Record<string, string>[] = [
    { "x-forwarded-for": "198.51.100.1" },
    { "x-forwarded-for": "198.51.100.2, 198.51.100.3", "x-real-ip": "198.51.100.2" },
    { forwarded: "for=198.51.100.4", "cf-connecting-ip": "198.51.100.4", "true-client-ip": "198.51.100.4" },
    { "x-forwarded-for": "198.51.100.5", "x-client-ip": "198.51.100.5" },
  ];
  // Calls without the key, however many, use up nothing of the tunnel's window.
  const refusedCalls: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await fetch(`${lb.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers: { authorization: "Bearer not-the-key", ...spoofs[i % spoofs.length] }, body: CHAT });
    await r.arrayBuffer();
    refusedCalls.push(r.status);
  }
  expect(refusedCalls).toEqual([401, 401, 401, 401, 401]);
  const statuses: number[] = [];
  for (const h of spoofs) {
    const r = await fetch(`${lb.url}/t/${TUNNEL_ID}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${CLIENT_KEY}`, ...h }, body: CHAT });
    await r.arrayBuffer();
    statuses.push(r.status);
  }
  // Limits are the tunnel's, not an address's: a new address per call still meets the fourth call's 429.
  expect(statuses).toEqual([200, 200, 200, 429]);
  // A refused agent that claims another address is logged with the address its connection came from (HAProxy's).
  const refused = await fetch(`${lb.url}/agent`, {
    headers: { authorization: "Bearer not-a-token", upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13", "x-forwarded-for": "203.0.113.9", forwarded: "for=203.0.113.9" },
  });
  expect(refused.status).toBe(401);
  const line = await limited.waitFor(/agent refused/, 5_000);
  expect(line).toContain("remote=127.0.0.1");
  expect(limited.stderr()).not.toContain("203.0.113.9");
}, 30_000);

test("a request head trickled in through the docs' HAProxy is cut by the balancer (timeout http-request), since the relay never sees it", async () => {
  // The docs' 10 s, shortened here to keep the test fast.
  expect(docBlock("haproxy")).toMatch(/^\s*timeout http-request 10s$/m);
  const lb = await startHaproxy([link], undefined, { edit: (cfg) => cfg.replace(/timeout http-request 10s/, "timeout http-request 1s") });
  extra.procs.push(lb);
  const s = tcp(lb.port, "127.0.0.1");
  let answer = "";
  s.on("data", (d) => (answer += d.toString()));
  s.on("error", () => {});
  const head = `GET /t/${TUNNEL_ID}/api/tags HTTP/1.1\r\nHost: relay\r\nX-Pad: ${"a".repeat(200)}`;
  let i = 0;
  const drip = setInterval(() => s.destroyed || i >= head.length || s.write(head[i++]!), 200);
  try {
    const closedAfter = await new Promise<number>((resolve) => {
      const t0 = performance.now();
      s.on("close", () => resolve(performance.now() - t0));
      setTimeout(() => resolve(-1), 8_000);
    });
    // Closed by HAProxy's timer (a 408), long before the head could have been whole.
    expect(closedAfter).toBeGreaterThan(0);
    expect(answer).toStartWith("HTTP/1.1 408");
    expect(i).toBeLessThan(head.length);
  } finally {
    clearInterval(drip);
    s.destroy();
  }
}, 30_000);

requireTools(["haproxy", "nginx", "openssl"]).test("the docs' TLS lines (HAProxy bind ssl crt, nginx listen ssl) carry an agent's wss:// that verifies the proxy's certificate, and a client's https:// call", async () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-proxy-tls-"));
  extra.dirs.push(dir);
  const sh = (...cmd: string[]) => {
    const r = Bun.spawnSync(cmd, { cwd: dir, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  };
  sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=c2l proxy test CA");
  sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "relay.key", "-out", "relay.csr", "-subj", "/CN=localhost");
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  sh("openssl", "x509", "-req", "-in", "relay.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "relay.crt", "-days", "2", "-extfile", "ext.cnf");
  // HAProxy's crt is one file: the certificate chain, then its key.
  writeFileSync(join(dir, "relay.pem"), readFileSync(join(dir, "relay.crt"), "utf8") + readFileSync(join(dir, "relay.key"), "utf8"));
  const ca = readFileSync(join(dir, "ca.pem"), "utf8");
  const proxies = {
    [TLS_VIA.haproxy]: await startHaproxy([link], undefined, { tlsPem: join(dir, "relay.pem"), ca }),
    [TLS_VIA.nginx]: await startNginx([link], "", { cert: join(dir, "relay.crt"), key: join(dir, "relay.key"), ca }),
  };
  extra.procs.push(...Object.values(proxies));
  for (const [id, p] of Object.entries(proxies)) {
    expect(p.url).toStartWith("https://");
    const c = await connect({
      url: `${p.url.replace(/^https/, "wss")}/agent`,
      token: viaToken(id),
      caFile: join(dir, "ca.pem"),
      agent: "behind-proxies-tls",
      heartbeatMs: 300,
      toleranceMs: 1200,
      maxStreams: 8,
      onStream: (s) => void serveStream(s, answer),
    });
    extra.conns.push(c);
    const r = await fetch(`${p.url}/t/${id}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${CLIENT_KEY}` }, body: CHAT, tls: { ca } });
    expect({ id, status: r.status, body: await r.text() }).toEqual({ id, status: 200, body: '{"i":0,"done":true}\n' });
  }
}, 30_000);

test("an answer in flight resumes when the HAProxy in front of its agent is killed and started again: every token once, in order", async () => {
  // Its own relay and a real agent daemon that holds answers across reconnects, connected through HAProxy; the client
  // calls the relay straight, so only the agent's connection goes through the proxy that dies.
  const fake = await startFakeOllama({ tokens: 30, tokenDelayMs: 50 });
  const own = await startRelayProc(relayToml());
  extra.procs.push(own);
  extra.dirs.push(own.dir);
  const dir = mkdtempSync(join(tmpdir(), "c2l-haproxy-restart-"));
  extra.dirs.push(dir);
  const lb = await startHaproxy([own]);
  writeFileSync(join(dir, "haproxy.cfg"), haproxyConfigFromDocs(lb.port, [own]));
  const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${lb.url.replace(/^http/, "ws")}/agent` }));
  try {
    const call = streamingCall(own.url, DIALECTS[0]);
    await call.started;
    await lb.stop("SIGKILL");
    const again = spawnLogged(["haproxy", "-db", "-f", join(dir, "haproxy.cfg")], { env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/bin" }, label: "haproxy (restarted)" });
    extra.procs.push(again);
    const text = await call.done;
    expect(tokensIn(text)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(text).not.toContain('"error"');
    expect(text).toMatch(DIALECTS[0].done);
    // The agent is back through the restarted proxy, and the answer was resumed there, not generated again.
    await daemon.waitFor(/the relay resumed an answer on the new connection/, 5_000);
    expect(fake.requests.filter((r) => r.path === DIALECTS[0].path)).toHaveLength(1);
  } finally {
    await daemon.stop();
    cleanup(daemon.home);
    await fake.stop();
  }
}, 30_000);
