// Request smuggling against the relay behind the docs' HAProxy and nginx (and nginx keeping connections to the relay,
// `keepalive 16`), and straight at it: each framing trick, byte for byte over a raw socket, must neither carry a second
// request past the relay's client key to the agent nor leave an answer on a shared connection for another client.
import { expect } from "bun:test";
import { connect as tcp } from "node:net";
import { serveStream } from "../../src/protocol/http-over-stream.ts";
import { connect, type Connection } from "../../src/tunnel/connector.ts";
import { requireTools } from "../helpers/requires.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, relayToml, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { startHaproxy, startNginx, type TestProxy } from "./cluster-helpers.ts";

const { test, beforeAll, afterAll } = requireTools(["haproxy", "nginx"]);

let relay: RelayProc;
let agent: Connection;
const proxies: TestProxy[] = [];
/** Every request the agent was handed: method, path, the caller's x-id, and the start of its body. */
const seen: { method: string; path: string; id: string | null; body: string }[] = [];

beforeAll(async () => {
  relay = await startRelayProc(relayToml());
  agent = await connect({
    url: `${relay.url.replace(/^http/, "ws")}/agent`,
    token: AGENT_TOKEN,
    agent: "smuggling-test",
    heartbeatMs: 300,
    toleranceMs: 1200,
    maxStreams: 64,
    onStream: (s) =>
      void serveStream(s, async (req) => {
        const body = await req.text();
        const path = new URL(req.url).pathname;
        seen.push({ method: req.method, path, id: req.headers.get("x-id"), body: body.slice(0, 200) });
        return new Response(`you are ${req.headers.get("x-id")} at ${path}\n`, { headers: { "content-type": "text/plain" } });
      }),
  });
  proxies.push(...(await Promise.all([startHaproxy([relay]), startNginx([relay]), startNginx([relay], "keepalive 16;")])));
}, 30_000);

afterAll(async () => {
  agent?.close("test over");
  for (const p of proxies) await p.stop();
  await relay?.stop("SIGKILL");
});

const fronts = () => ({ relay: relay.port, haproxy: proxies[0]!.port, nginx: proxies[1]!.port, "nginx keepalive": proxies[2]!.port });
const AUTH = `Authorization: Bearer ${CLIENT_KEY}\r\n`;
const P = `/t/${TUNNEL_ID}/api/chat`;
/** The request hidden in each attack: no client key, so it must never reach the agent. */
const SMUGGLED = `GET /t/${TUNNEL_ID}/api/smuggled HTTP/1.1\r\nHost: relay.example.com\r\nX-Id: smuggled\r\n\r\n`;

/** [name, the attacker's bytes]: a client-keyed request whose framing a proxy and the relay might read apart. */
const ATTACKS: [string, string][] = [
  ["CL.TE", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ["TE.CL", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`],
  ["Transfer-Encoding: xchunked", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}Transfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\nabcd${SMUGGLED}`],
  ["Transfer-Encoding: chunked, identity", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}Transfer-Encoding: chunked, identity\r\nContent-Length: 4\r\n\r\nabcd${SMUGGLED}`],
  ["a space before the colon of Transfer-Encoding", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}Transfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\nabcd${SMUGGLED}`],
  ["a tab before the colon of Transfer-Encoding", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}Transfer-Encoding\t: chunked\r\nContent-Length: 4\r\n\r\nabcd${SMUGGLED}`],
  ["a tab before the value of Transfer-Encoding", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}Transfer-Encoding:\tchunked\r\nContent-Length: 4\r\n\r\nabcd${SMUGGLED}`],
  ["two Transfer-Encodings", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: 4\r\n\r\nabcd${SMUGGLED}`],
  ["two Content-Lengths", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}Content-Length: 4\r\nContent-Length: 40\r\n\r\nabcd${SMUGGLED}`],
  ["Transfer-Encoding folded into another header (obs-fold)", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}X-A: b\r\n Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\nabcd${SMUGGLED}`],
  ["two Host headers", `POST ${P} HTTP/1.1\r\nHost: r\r\nHost: evil.example\r\n${AUTH}Content-Length: 4\r\n\r\nabcd${SMUGGLED}`],
  ["an absolute-form target naming another host than Host", `POST http://evil.example${P} HTTP/1.1\r\nHost: r\r\n${AUTH}Content-Length: 4\r\n\r\nabcd${SMUGGLED}`],
  ["a NUL in a header value", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}X-A: b\0c\r\nContent-Length: 4\r\n\r\nabcd${SMUGGLED}`],
  ["a bare CR in a header value", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}X-A: b\rContent-Length: 40\r\nContent-Length: 4\r\n\r\nabcd${SMUGGLED}`],
  ["bare LF line endings in the head", `POST ${P} HTTP/1.1\nHost: r\n${AUTH.replace("\r\n", "\n")}Content-Length: 4\n\nabcd${SMUGGLED}`],
  ["bare LF line endings in the chunks", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}Transfer-Encoding: chunked\r\n\r\n4\nabcd\n0\n\n${SMUGGLED}`],
  ["a 10,000-byte chunk extension", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}Transfer-Encoding: chunked\r\n\r\n4;${"a".repeat(10_000)}\r\nabcd\r\n0\r\n\r\n${SMUGGLED}`],
  ["a chunk size of 300 leading zeros", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}Transfer-Encoding: chunked\r\n\r\n${"0".repeat(300)}4\r\nabcd\r\n0\r\n\r\n${SMUGGLED}`],
  ["a chunk size past 64 bits", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}Transfer-Encoding: chunked\r\n\r\n1000000000000000004\r\nabcd\r\n0\r\n\r\n${SMUGGLED}`],
  ["a trailer section after the last chunk (Bun reads it as the next request)", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}X-Id: trailer\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nX-Trailer: 1\r\n\r\n${SMUGGLED}`],
  ["a trailer that looks like a request line", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}X-Id: trailer\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nGET /t/${TUNNEL_ID}/api/smuggled HTTP/1.1\r\nHost: r\r\nX-Id: smuggled\r\n\r\n`],
  ["Expect: 100-continue on a GET without a body", `GET ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}X-Id: expect\r\nExpect: 100-continue\r\n\r\n${SMUGGLED}`],
  ["Expect: 100-continue with Content-Length: 0", `POST ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}X-Id: expect\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n${SMUGGLED}`],
  ["a WebSocket upgrade to /agent without an agent token (the proxy tunnels only after a 101)", `GET /agent HTTP/1.1\r\nHost: r\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n${SMUGGLED}`],
  ["a WebSocket upgrade to a tunnel path with the client key", `GET ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}X-Id: upgrade\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n${SMUGGLED}`],
  ["an h2c upgrade with the client key", `GET ${P} HTTP/1.1\r\nHost: r\r\n${AUTH}X-Id: h2c\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n${SMUGGLED}`],
  ["a request pipelined after a refusal (no key)", `POST ${P} HTTP/1.1\r\nHost: r\r\nContent-Length: 4\r\n\r\nabcd${SMUGGLED}`],
  ["a request pipelined after a 400 (a fragment)", `GET ${P}#x HTTP/1.1\r\nHost: r\r\n${AUTH}\r\n${SMUGGLED}`],
];

/** Writes `bytes` and reads until the server closes the connection, or it stays quiet for a while after answering. */
function attack(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    let out = "";
    let quiet: ReturnType<typeof setTimeout> | null = null;
    const s = tcp(port, "127.0.0.1", () => s.write(bytes));
    s.setEncoding("latin1");
    s.on("error", () => {});
    // A proxy keeps the client's connection open after its answers: quiet for 500 ms after the last byte ends the read.
    const settle = () => {
      if (quiet) clearTimeout(quiet);
      quiet = setTimeout(() => s.destroy(), 500);
    };
    s.on("data", (d) => ((out += d), settle()));
    s.on("close", () => (quiet && clearTimeout(quiet), clearTimeout(cap), resolve(out)));
    const cap = setTimeout(() => s.destroy(), 5_000);
  });
}

/** A well-formed keyed call of another client, on its own connection: the body of the one answer it got. */
function victim(port: number, id: string): Promise<string> {
  return new Promise((resolve) => {
    let out = "";
    const s = tcp(port, "127.0.0.1", () => s.write(`GET /t/${TUNNEL_ID}/api/victim HTTP/1.1\r\nHost: r\r\n${AUTH}X-Id: ${id}\r\nConnection: close\r\n\r\n`));
    s.setEncoding("latin1");
    s.on("error", () => {});
    s.on("data", (d) => (out += d));
    s.on("close", () => (clearTimeout(cap), resolve(out.slice(out.indexOf("\r\n\r\n") + 4))));
    const cap = setTimeout(() => s.destroy(), 10_000);
  });
}

test("no framing trick carries a request past the relay's client key to the agent, or leaves an answer for another client, through HAProxy, nginx or straight", async () => {
  const outcome: Record<string, Record<string, { statuses: string; victims: boolean }>> = {};
  for (const [name, bytes] of ATTACKS) {
    outcome[name] = {};
    await Promise.all(
      Object.entries(fronts()).map(async ([front, port]) => {
        const answered = await attack(port, bytes);
        // Three other clients right after, each on its own connection: each must get its own answer, never one the
        // attack left on a connection the proxy keeps to the relay.
        const ids = [0, 1, 2].map((i) => `${front.replace(/\W/g, "")}-${ATTACKS.findIndex(([n]) => n === name)}-${i}`);
        const got = await Promise.all(ids.map((id) => victim(port, id)));
        const statuses = [...answered.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => m[1]).join(",");
        outcome[name]![front] = { statuses, victims: got.every((body, i) => body === `you are ${ids[i]} at /api/victim\n`) };
      }),
    );
  }
  // What each front answered the attacker differs (400, 501, its own pipelined 401s, a dropped connection); what holds
  // is the same everywhere: every victim got its own answer ...
  const victims = Object.fromEntries(Object.entries(outcome).map(([name, byFront]) => [name, Object.fromEntries(Object.entries(byFront).map(([f, o]) => [f, o.victims]))]));
  const allOwn = Object.fromEntries(ATTACKS.map(([name]) => [name, Object.fromEntries(Object.keys(fronts()).map((f) => [f, true]))]));
  expect(victims).toEqual(allOwn);
  // ... and no request without the client key reached the agent (in a body, as the data of a keyed call, it may).
  expect(seen.filter((r) => r.path === "/api/smuggled" || r.id === "smuggled")).toEqual([]);
}, 180_000);

test("a request pipelined behind another straight at the relay is never answered out of turn: both in order, or the connection closes unanswered (Bun closes it)", async () => {
  const before = seen.length;
  const two = `GET /t/${TUNNEL_ID}/api/first HTTP/1.1\r\nHost: r\r\n${AUTH}X-Id: first\r\n\r\nGET /t/${TUNNEL_ID}/api/second HTTP/1.1\r\nHost: r\r\n${AUTH}X-Id: second\r\n\r\n`;
  const answered = await attack(relay.port, two);
  // Either both answered in order, or none: never the second's answer first, nor one answer for two requests.
  const bodies = [...answered.matchAll(/you are (\w+) at/g)].map((m) => m[1]!);
  expect([[], ["first", "second"]]).toContainEqual(bodies);
  expect(seen.slice(before).every((r) => r.id === "first" || r.id === "second")).toBe(true);
});
