// A header a client names in its Connection header is hop-by-hop (RFC 9110 §7.6.1): the relay, the last hop that sees
// Connection, drops it, so it never reaches the agent (nor, through it, an upstream).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { serveStream } from "../../src/protocol/http-over-stream.ts";
import { connect, type Connection } from "../../src/tunnel/connector.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, relayToml, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

let relay: RelayProc;
let agent: Connection;

beforeAll(async () => {
  relay = await startRelayProc(relayToml());
  // The agent answers with the headers it was sent.
  agent = await connect({
    url: `${relay.url.replace(/^http/, "ws")}/agent`,
    token: AGENT_TOKEN,
    agent: "connection-named-test",
    heartbeatMs: 300,
    toleranceMs: 1200,
    maxStreams: 8,
    onStream: (s) => void serveStream(s, async (req) => Response.json(Object.fromEntries(req.headers))),
  });
}, 30_000);

afterAll(async () => {
  agent?.close("test over");
  await relay?.stop();
  cleanup(relay?.dir);
});

test("headers named in a client's Connection header never reach the agent; the others do", async () => {
  const res = await rawRequest(relay.port, "POST", `/t/${TUNNEL_ID}/api/chat`, {
    headers: { authorization: `Bearer ${CLIENT_KEY}`, connection: "close, X-Hop-Secret, x-trace-hop", "x-hop-secret": "s3cret", "x-trace-hop": "t", "x-kept": "k" },
    body: "{}",
  });
  expect(res.status).toBe(200);
  const seen = JSON.parse(res.body) as Record<string, string>;
  expect(seen["x-kept"]).toBe("k");
  expect(seen["x-hop-secret"]).toBeUndefined();
  expect(seen["x-trace-hop"]).toBeUndefined();
}, 30_000);
