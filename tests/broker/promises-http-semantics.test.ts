// HTTP/1.1 semantics real clients use, on the broker and through the relay: HEAD on every kind of route, keep-alive
// reuse after error answers and after an upstream's odd but legal answers, and what Bun's own parser does that we
// cannot change (pinned here, documented in docs/broker.md). Raw sockets: fetch would hide every one of these.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { apiToken, createKey, removeHome, type DaemonProc } from "../helpers/daemon.ts";
import { rawConversation, rawRequest } from "../helpers/raw-http.ts";
import { scriptedUpstream, type ScriptedUpstream } from "../helpers/scripted-upstream.ts";
import { until } from "../helpers/until.ts";
import { ADMIN_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

const ANSWER = JSON.stringify({ model: "m:latest", response: "hi", done: true });
const gz = Bun.gzipSync(ANSWER);
/** The upstream's answer to a generation, by name: each a legal (or survivable) HTTP/1.1 answer. */
const ANSWERS: Record<string, string | Uint8Array> = {
  plain: `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${ANSWER.length}\r\n\r\n${ANSWER}`,
  close: `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${ANSWER.length}\r\n\r\n${ANSWER}`,
  http10: `HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n${ANSWER}`,
  chunkedAndLength: `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n${ANSWER.length.toString(16)}\r\n${ANSWER}\r\n0\r\n\r\n`,
  continue100: `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${ANSWER.length}\r\n\r\n${ANSWER}`,
  earlyHints103: `HTTP/1.1 103 Early Hints\r\nlink: </x>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${ANSWER.length}\r\n\r\n${ANSWER}`,
  noContentWithBody: `HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nhello`,
  notModified: `HTTP/1.1 304 Not Modified\r\netag: "v1"\r\n\r\n`,
  partial: `HTTP/1.1 206 Partial Content\r\ncontent-type: application/octet-stream\r\ncontent-range: bytes 0-3/10\r\ncontent-length: 4\r\n\r\nabcd`,
  gzip: Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: ${gz.length}\r\n\r\n`), gz]),
  malformed: `HTTP/1.1 two hundred\r\n\r\n`,
  cut: `HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel`,
};
let answer = "plain";
const MAX_STREAMS = 8;

let up: ScriptedUpstream;
let relay: RelayProc;
let d: DaemonProc;
let port: number;
/** A key whose model list leaves the upstream's one model out; and one with every model. */
let narrow: string;
let full: string;
/** A key allowed one request a minute. */
let once: string;

beforeAll(async () => {
  up = scriptedUpstream((_path, s) => {
    s.write(ANSWERS[answer]!);
    if (answer === "close" || answer === "http10" || answer === "cut" || answer === "malformed") s.end();
  });
  // Few streams per tunnel: a stream the relay never ends would use them up within one test.
  relay = await startRelayProc(relayToml().replace("max_streams = 512", `max_streams = ${MAX_STREAMS}`));
  d = await startAgentDaemon(daemonToml({ upstream: up.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
  port = Number(new URL(d.urls.broker!).port);
  narrow = createKey(d, "narrow", "--models", "other*");
  full = createKey(d, "full");
  once = createKey(d, "once", "--rpm", "1");
  await until(async () => (await fetch(`${d.urls.broker}/api/version`, { headers: { "x-api-key": full } })).status === 200, 5000, "the daemon to see the keys");
}, 30_000);

afterAll(async () => {
  await d?.stop();
  await relay?.stop();
  up?.stop();
  cleanup(relay?.dir);
  if (d) removeHome(d.home);
});

const generate = (key: string, extra = "") => {
  const body = JSON.stringify({ model: "m:latest", prompt: "hi", stream: false });
  return `POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${key}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;
};

test("HEAD gets the headers GET gets and no body, on the broker and through the relay: a listing's own length (never the upstream's unfiltered list), a passed-through route's length from the upstream", async () => {
  for (const [where, p, prefix, auth] of [
    ["broker", port, "", {}],
    ["relay", relay.port, `/t/${TUNNEL_ID}`, { authorization: `Bearer ${CLIENT_KEY}` }],
  ] as const) {
    for (const key of [narrow, full]) {
      for (const path of ["/api/tags", "/api/ps", "/v1/models", "/api/version"]) {
        const headers = { ...auth, "x-api-key": key };
        const got = await rawRequest(p, "GET", prefix + path, { headers });
        const head = await rawRequest(p, "HEAD", prefix + path, { headers });
        const what = { where, path, narrow: key === narrow };
        expect({ ...what, status: head.status, length: head.headers["content-length"], type: head.headers["content-type"], body: head.body }).toEqual({
          ...what,
          status: got.status,
          length: String(Buffer.byteLength(got.body)),
          type: got.headers["content-type"],
          body: "",
        });
      }
    }
  }
  // A HEAD the upstream answers 204 declares no length (Bun drops a Content-Length from a 204).
  answer = "noContentWithBody";
  const none = await rawRequest(port, "HEAD", "/api/generate", { headers: { "x-api-key": full } });
  answer = "plain";
  expect({ status: none.status, length: none.headers["content-length"] }).toEqual({ status: 204, length: undefined });
  // The listings are the broker's own answers: a HEAD never asks the upstream for its unfiltered list.
  expect(up.requests.filter((r) => r.startsWith("HEAD ") && r !== "HEAD /api/version" && r !== "HEAD /api/generate")).toEqual([]);
});

test("a kept-alive connection serves the next request after every error answer: an unknown key (401), a key's model list (403), two different keys (400), a stream the upstream cut, an upstream's malformed answer (502), a key's rate (429); through the relay too", async () => {
  const c = await rawConversation(port);
  const steps: [string, string, number][] = [
    ["unknown key", generate("c2l_not_a_key_0123456789"), 401],
    ["model off the key's list", generate(narrow), 403],
    ["two different keys", generate(full, `authorization: Bearer ${narrow}\r\n`), 400],
    ["the upstream cut the stream", generate(full), 200],
    ["a malformed upstream answer", generate(full), 502],
    ["the key's first call", generate(once), 200],
    ["over the key's rate", generate(once), 429],
    ["after all of them", generate(full), 200],
  ];
  for (const [what, req, status] of steps) {
    answer = what === "the upstream cut the stream" ? "cut" : what === "a malformed upstream answer" ? "malformed" : "plain";
    c.write(req);
    const r = await c.next();
    expect({ what, status: r?.status }).toEqual({ what, status });
    if (what === "the upstream cut the stream") expect(r!.body).toContain("broke off the response");
    if (what === "after all of them") expect(r!.body).toBe(ANSWER);
  }
  expect(c.closed).toBe(false);
  // Connection: close is honoured: the answer, then the end of the connection.
  c.write(generate(full, "connection: close\r\n"));
  expect((await c.next())?.status).toBe(200);
  expect(await c.next()).toBeNull();
  expect(c.closed).toBe(true);
  c.close();
  // Through the relay too: after a stream the upstream cut and after a 502, the admitted connection serves the next call.
  const r = await rawConversation(relay.port);
  const viaRelay = () => generate(full, `authorization: Bearer ${CLIENT_KEY}\r\n`).replace("/api/generate", `/t/${TUNNEL_ID}/api/generate`);
  for (const [what, status] of [["cut", 200], ["malformed", 502], ["plain", 200]] as const) {
    answer = what;
    r.write(viaRelay());
    const got = await r.next();
    expect({ what, status: got?.status }).toEqual({ what, status });
    if (what === "cut") expect(got!.body).toContain("broke off the response");
  }
  expect(r.closed).toBe(false);
  r.close();
  answer = "plain";
});

test("the control API keeps the connection after its error answers too: unknown route (404), bad token (401), body over body_limit (413, answered before the body is sent)", async () => {
  const api = Number(new URL(d.urls.api!).port);
  const token = await apiToken(d);
  const c = await rawConversation(api);
  const get = (path: string, auth: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nauthorization: Bearer ${auth}\r\n\r\n`;
  c.write(get("/api/v1/no-such-route", token));
  expect((await c.next())?.status).toBe(404);
  c.write(get("/api/v1/keys", "wrong-token-0123456789"));
  expect((await c.next())?.status).toBe(401);
  // Declared over [api] body_limit (1 MiB): refused at once; the body the client then sends is read and dropped.
  const size = 2 * 1024 * 1024;
  c.write(`PUT /api/v1/config HTTP/1.1\r\nHost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${size}\r\n\r\n`);
  const refused = await c.next();
  expect({ status: refused?.status, code: refused?.headers["x-c2l-error-code"] }).toEqual({ status: 413, code: "payload_too_large" });
  c.write("x".repeat(size));
  c.write(get("/api/v1/status", token));
  expect((await c.next())?.status).toBe(200);
  c.close();
});

test("an upstream's legal but unusual answers (Connection: close, HTTP/1.0, chunked with a Content-Length, 100 and 103 interim answers, a 204 with a body, 304, 206, gzip) reach the client unchanged, twice in a row (the broker's pool reuses its upstream socket or drops it), and through the relay", async () => {
  const expected: Record<string, { status: number; body: string; header?: [string, string] }> = {
    noContentWithBody: { status: 204, body: "" },
    notModified: { status: 304, body: "", header: ["etag", '"v1"'] },
    partial: { status: 206, body: "abcd", header: ["content-range", "bytes 0-3/10"] },
    gzip: { status: 200, body: ANSWER, header: ["content-encoding", "gzip"] },
  };
  for (const name of Object.keys(ANSWERS).filter((n) => n !== "cut" && n !== "malformed")) {
    answer = name;
    const want = expected[name] ?? { status: 200, body: ANSWER };
    for (const [where, p, req] of [
      ["broker", port, generate(full)],
      ["broker", port, generate(full)],
      ["relay", relay.port, generate(full, `authorization: Bearer ${CLIENT_KEY}\r\n`).replace("/api/generate", `/t/${TUNNEL_ID}/api/generate`)],
    ] as const) {
      const c = await rawConversation(p);
      c.write(req);
      const r = await c.next();
      c.close();
      const body = name === "gzip" ? Buffer.from(Bun.gunzipSync(new Uint8Array(r!.bytes))).toString() : r?.body;
      const what = { name, where };
      expect({ ...what, status: r?.status, body, header: want.header && [want.header[0], r?.headers[want.header[0]]] }).toEqual({ ...what, status: want.status, body: want.body, header: want.header });
    }
  }
  answer = "plain";
});

/** What arrives on a new connection for `parts` (written `gapMs` apart) until the server closes it or `ms` pass. */
async function transcript(p: number, parts: string[], ms = 1500, gapMs = 200): Promise<{ text: string; closed: boolean }> {
  const c = await rawConversation(p);
  for (const [i, part] of parts.entries()) {
    if (i) await Bun.sleep(gapMs);
    c.write(part);
  }
  await until(async () => c.closed, ms, "").catch(() => {});
  const { text } = c.drain();
  const closed = c.closed;
  c.close();
  return { text: text.replace(/\r\ndate: [^\r]*/gi, ""), closed };
}

test("documented (Bun's server, not ours): Expect: 100-continue is answered 100 at once, even for a refused call; chunked trailers cost an async answer; pipelining on the relay and control API; HTTP/1.0 keep-alive, HTTP/2 prior knowledge, OPTIONS *, header limits", async () => {
  const big = 2 * 1024 * 1024;
  const expectHead = (path: string, extra: string) => `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${big}\r\nexpect: 100-continue\r\n${extra}\r\n`;
  // The broker: 100 first (the client then sends its body), the refusal right behind it, before any body byte came.
  const broker = await transcript(port, [expectHead("/api/generate", "x-api-key: c2l_not_a_key_0123456789\r\n")], 1000);
  expect(broker.text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 401 /);
  // The relay reads a refused body to its end before it answers (src/relay/server.ts closeUnadmitted): after the 100,
  // the answer waits for the body the client now sends.
  const refused = expectHead(`/t/${TUNNEL_ID}/api/generate`, "").replace(`content-length: ${big}`, "content-length: 10");
  const withoutBody = await transcript(relay.port, [refused], 1000);
  expect(withoutBody.text).toBe("HTTP/1.1 100 Continue\r\n\r\n");
  const withBody = await transcript(relay.port, [refused, "0123456789"], 2000);
  expect(withBody.text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 401 [^]*\r\nconnection: close\r\n/i);

  // A chunked body with a trailer field: Bun answers the trailer as the next request (400, closed), and an answer not
  // ready by then (every proxied call) is never written.
  const body = JSON.stringify({ model: "m:latest", prompt: "hi", stream: false });
  const trailer = await transcript(port, [`POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${full}\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\nx-checksum: 1\r\n\r\n`]);
  expect(trailer).toEqual({ text: "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n", closed: true });
  // Without the trailer, a chunk extension is fine and the connection stays.
  const ext = await transcript(port, [`POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${full}\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)};name=value\r\n${body}\r\n0\r\n\r\n`], 500);
  expect(ext.text).toStartWith("HTTP/1.1 200 OK\r\n");
  expect(ext.closed).toBe(false);

  // HTTP/1.0 asking for keep-alive gets its answer and a closed connection (Bun keeps HTTP/1.0 connections never).
  const old = await transcript(port, [`GET /api/version HTTP/1.0\r\nHost: 127.0.0.1\r\nx-api-key: ${full}\r\nConnection: keep-alive\r\n\r\n`]);
  expect(old.closed).toBe(true);
  expect(old.text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\{"version":"0\.14\.0"\}$/);
  expect(old.text).not.toMatch(/keep-alive/i);

  // Answered by Bun's parser with no body (no dialect, no error code): OPTIONS *, a head over 16 KiB.
  expect(await transcript(port, ["OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"])).toEqual({ text: "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n", closed: true });
  expect(await transcript(port, [`GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\nx-long: ${"a".repeat(17 * 1024)}\r\n\r\n`])).toEqual({ text: "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n", closed: true });
  // HTTP/2 with prior knowledge (its connection preface): 400, closed. (`curl --http2` asks for h2c and goes on in HTTP/1.1.)
  expect(await transcript(port, ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"])).toEqual({ text: "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n", closed: true });
  const h2c = await transcript(port, [`GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${full}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n`], 500);
  expect(h2c.text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\{"version":"0\.14\.0"\}$/);
  // And more than about 200 header lines (Bun 1.4: 198 with Host), however short.
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `x-h${i}: v\r\n`).join("");
  expect((await transcript(port, [`GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${full}\r\n${lines(150)}\r\n`], 500)).text).toStartWith("HTTP/1.1 200 OK\r\n");
  expect(await transcript(port, [`GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines(250)}\r\n`])).toEqual({ text: "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n", closed: true });
  // Two requests pipelined in one write: both answers in order, or (oven-sh/bun#33664) the connection closed after the
  // answers ready by then (none; on the control API, whose status answer can be ready at once, only the first), on the
  // relay and the control API as on the broker (tests/broker/promises-http.test.ts).
  const api = Number(new URL(d.urls.api!).port);
  const status = `GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
  const viaRelay = (last: string) => generate(full, `authorization: Bearer ${CLIENT_KEY}\r\n${last}`).replace("/api/generate", `/t/${TUNNEL_ID}/api/generate`);
  for (const [where, p, two] of [
    ["relay", relay.port, viaRelay("") + viaRelay("connection: close\r\n")],
    ["control API", api, status + status.replace("\r\n\r\n", "\r\nconnection: close\r\n\r\n")],
  ] as const) {
    const { text } = await transcript(p, [two], 3000);
    const statuses = [...text.matchAll(/(?:^|\n)HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    expect([{ where, statuses: [] }, { where, statuses: [200] }, { where, statuses: [200, 200] }]).toContainEqual({ where, statuses });
  }
  // An absolute-form target (what a client configured with an HTTP proxy sends) is the same call, on both.
  expect((await rawRequest(port, "POST", `http://127.0.0.1:${port}/api/generate`, { headers: { "x-api-key": full, "content-type": "application/json" }, body })).body).toBe(ANSWER);
  expect((await rawRequest(relay.port, "POST", `http://127.0.0.1:${relay.port}/t/${TUNNEL_ID}/api/generate`, { headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" }, body })).body).toBe(ANSWER);
});

test("a POST with neither Content-Length nor Transfer-Encoding (an HTTP/1.0 client ending its body by closing) is 400 through the relay as on the broker, never an empty call upstream", async () => {
  const before = up.requests.length;
  for (const [where, p, path, headers] of [
    ["broker", port, "/api/generate", { "x-api-key": full }],
    ["relay", relay.port, `/t/${TUNNEL_ID}/api/generate`, { authorization: `Bearer ${CLIENT_KEY}` }],
    ["relay", relay.port, `/t/${TUNNEL_ID}/v1/chat/completions`, { authorization: `Bearer ${CLIENT_KEY}` }],
  ] as const) {
    const r = await rawRequest(p, "POST", path, { headers: { ...headers, "content-type": "application/json" } });
    const message = path.includes("/v1/") ? JSON.parse(r.body).error.message : JSON.parse(r.body).error;
    expect({ where, path, status: r.status, code: r.headers["x-c2l-error-code"], message }).toEqual({
      where,
      path,
      status: 400,
      code: "bad_request",
      message: expect.stringContaining("has no Content-Length or Transfer-Encoding") as unknown as string,
    });
  }
  // Framed empty bodies pass (Content-Length: 0, a chunked body of no chunks).
  const empty = await rawRequest(relay.port, "POST", `/t/${TUNNEL_ID}/api/generate`, { headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-length": "0" } });
  expect(empty.status).toBe(200);
  expect(up.requests.length).toBe(before + 1);
});

test("a HEAD the agent answers with a body anyway (its own refusal, a listing) ends its stream at the relay: it held one of the tunnel's max_streams for good, and enough of them refused every call with 429", async () => {
  const auth = `authorization: Bearer ${CLIENT_KEY}\r\nx-api-key: ${full}\r\n`;
  for (let i = 0; i < MAX_STREAMS + 2; i++) {
    for (const path of ["/api/pull", "/api/tags"]) {
      const r = await rawRequest(relay.port, "HEAD", `/t/${TUNNEL_ID}${path}`, { headers: { authorization: `Bearer ${CLIENT_KEY}`, "x-api-key": full } });
      expect({ path, status: r.status }).toEqual({ path, status: path === "/api/pull" ? 403 : 200 });
    }
  }
  const after = await rawConversation(relay.port);
  after.write(`GET /t/${TUNNEL_ID}/api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`);
  expect((await after.next())?.status).toBe(200);
  after.close();
  const active = async () => Number(/\ncloudtolocalllm_relay_streams_active (\d+)/.exec(await (await fetch(`${relay.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text())?.[1]);
  await until(async () => (await active()) === 0, 5000, "the relay's streams to end");
});
