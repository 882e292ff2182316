// The relay behind the docs' reverse proxies (HAProxy, nginx, and nginx with an upstream keepalive pool, which users
// add) never closes a connection a proxy may reuse: a call sent the moment the relay's idle timer fires is answered.
import { expect } from "bun:test";
import { connect as tcp, type Socket } from "node:net";
import { serveStream } from "../../src/protocol/http-over-stream.ts";
import { connect, type Connection } from "../../src/tunnel/connector.ts";
import { startLatencyLink, type LatencyLink } from "../helpers/latency-link.ts";
import { requireTools } from "../helpers/requires.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, relayToml, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { startHaproxy, startNginx, type TestProxy } from "./cluster-helpers.ts";

const { test, beforeAll, afterAll } = requireTools(["haproxy", "nginx"]);

let relay: RelayProc;
let agent: Connection;
let link: LatencyLink;
const proxies: Record<string, TestProxy> = {};

beforeAll(async () => {
  relay = await startRelayProc(relayToml({ limits: 'idle_timeout = "1s"' }));
  agent = await connect({
    url: `${relay.url.replace(/^http/, "ws")}/agent`,
    token: AGENT_TOKEN,
    agent: "keepalive-test",
    heartbeatMs: 1000,
    toleranceMs: 3000,
    maxStreams: 64,
    onStream: (s) => void serveStream(s, async () => new Response('{"done":true}\n', { headers: { "content-type": "application/x-ndjson" } })),
  });
  // The proxies reach the relay across 50 ms (another host): its close reaches them that late, as on a real network.
  link = await startLatencyLink(relay.port, 50);
  const [haproxy, nginx, pooled] = await Promise.all([startHaproxy([link]), startNginx([link]), startNginx([link], "keepalive 16;")]);
  Object.assign(proxies, { "HAProxy (docs)": haproxy, "nginx (docs)": nginx, "nginx (docs + keepalive 16)": pooled });
}, 30_000);

afterAll(async () => {
  for (const p of Object.values(proxies)) await p.stop();
  agent?.close("test over");
  link?.stop();
  await relay?.stop("SIGKILL");
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

/** A call that is not admitted (/healthz), then a chat on the same client connection the moment the relay's idle timer fires. */
async function chatAsTheTimerFires(proxy: TestProxy): Promise<string[]> {
  const c = client(proxy.port);
  try {
    const first = await c.send("GET /healthz HTTP/1.1");
    await relayClosedIdleConnection();
    const body = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] });
    const chat = await c.send(`POST /t/${TUNNEL_ID}/api/chat HTTP/1.1\r\nAuthorization: Bearer ${CLIENT_KEY}\r\nContent-Type: application/json`, body);
    return [first, chat];
  } finally {
    c.close();
  }
}

test("a chat sent through HAProxy and nginx as the relay's idle timer fires is answered (the relay never closes a connection a proxy may reuse)", async () => {
  const names = Object.keys(proxies);
  // Two rounds, each proxy at once: the relay's timer ticks for all of them together.
  for (let round = 0; round < 2; round++) {
    const results = await Promise.all(names.map((n) => chatAsTheTimerFires(proxies[n]!)));
    expect(Object.fromEntries(names.map((n, i) => [n, results[i]]))).toEqual(Object.fromEntries(names.map((n) => [n, ["200", "200"]])));
  }
}, 60_000);
