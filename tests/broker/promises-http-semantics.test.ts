// HTTP/1.1 semantics real clients use, on the broker and through the relay: HEAD on every kind of route, keep-alive
// reuse after error answers and after an upstream's odd but legal answers, and what Bun's own parser does that we
// cannot change (pinned here, documented in docs/broker.md). Raw sockets: fetch would hide every one of these.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createKey, removeHome, type DaemonProc } from "../helpers/daemon.ts";
import { rawConversation, rawRequest } from "../helpers/raw-http.ts";
import { scriptedUpstream, type ScriptedUpstream } from "../helpers/scripted-upstream.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

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
  gzip: Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: ${gz.length}\r\n\r\n`), gz]),
  cut: `HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel`,
};
let answer = "plain";

let up: ScriptedUpstream;
let relay: RelayProc;
let d: DaemonProc;
let port: number;
/** A key whose model list leaves the upstream's one model out; and one with every model. */
let narrow: string;
let full: string;

beforeAll(async () => {
  up = scriptedUpstream((_path, s) => {
    s.write(ANSWERS[answer]!);
    if (answer === "close" || answer === "http10" || answer === "cut") s.end();
  });
  relay = await startRelayProc(relayToml());
  d = await startAgentDaemon(daemonToml({ upstream: up.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
  port = Number(new URL(d.urls.broker!).port);
  narrow = createKey(d, "narrow", "--models", "other*");
  full = createKey(d, "full");
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
  // The listings are the broker's own answers: a HEAD never asks the upstream for its unfiltered list.
  expect(up.requests.filter((r) => r.startsWith("HEAD ") && r !== "HEAD /api/version")).toEqual([]);
});

test("a kept-alive connection serves the next request after every error answer: an unknown key (401), a key's model list (403), two different keys (400), a stream the upstream cut", async () => {
  const c = await rawConversation(port);
  const steps: [string, string, number][] = [
    ["unknown key", generate("c2l_not_a_key_0123456789"), 401],
    ["model off the key's list", generate(narrow), 403],
    ["two different keys", generate(full, `authorization: Bearer ${narrow}\r\n`), 400],
    ["the upstream cut the stream", generate(full), 200],
    ["after all of them", generate(full), 200],
  ];
  for (const [what, req, status] of steps) {
    answer = what === "the upstream cut the stream" ? "cut" : "plain";
    c.write(req);
    const r = await c.next();
    expect({ what, status: r?.status }).toEqual({ what, status });
    if (what === "the upstream cut the stream") expect(r!.body).toContain("broke off the response");
    if (what === "after all of them") expect(r!.body).toBe(ANSWER);
  }
  expect(c.closed).toBe(false);
  c.close();
  answer = "plain";
});

test("an upstream's legal but unusual answers (Connection: close, HTTP/1.0, chunked with a Content-Length, 100 and 103 interim answers, a 204 with a body, gzip) reach the client, twice on one connection, through the broker's upstream pool", async () => {
  for (const name of Object.keys(ANSWERS).filter((n) => n !== "cut")) {
    answer = name;
    const c = await rawConversation(port);
    for (const round of [1, 2]) {
      c.write(generate(full));
      const r = await c.next();
      const what = { name, round };
      if (name === "noContentWithBody") expect({ ...what, status: r?.status, body: r?.body }).toEqual({ ...what, status: 204, body: "" });
      else if (name === "gzip") expect({ ...what, status: r?.status, encoding: r?.headers["content-encoding"], body: Buffer.from(Bun.gunzipSync(r!.bytes)).toString() }).toEqual({ ...what, status: 200, encoding: "gzip", body: ANSWER });
      else expect({ ...what, status: r?.status, body: r?.body }).toEqual({ ...what, status: 200, body: ANSWER });
    }
    c.close();
  }
  answer = "plain";
});
