// [limits] idle_timeout: a connection with no admitted call (an idle keep-alive after a refusal, a request head trickled
// in byte by byte: slowloris) is closed; an admitted call through the tunnel is never cut by it, however long it is silent.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { closedWithin, trickleHead } from "../helpers/raw-http.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { CLIENT_KEY, TUNNEL_ID, relayToml } from "../tunnel/helpers.ts";
import { startTunnelRig, type TunnelRig } from "../tunnel/tunnel-rig.ts";

let rig: TunnelRig;
beforeAll(async () => {
  // Two tokens 3 s apart: a silence longer than the relay's idle timeout inside one admitted answer.
  rig = await startTunnelRig({ fake: { tokens: 2, tokenDelayMs: 3_000 }, relayToml: relayToml({ limits: 'idle_timeout = "2s"' }) });
}, 30_000);
afterAll(() => rig?.stop());


test("an idle keep-alive connection after a refused call, and a request head trickled in, are closed; an admitted silent answer is not", async () => {
  const port = rig.relay.port;
  // A refused call (no key), then nothing: the connection is the relay's to close.
  const refused = connect(port, "127.0.0.1");
  let answer = "";
  refused.on("data", (d) => (answer += d.toString()));
  refused.write(`GET /t/${TUNNEL_ID}/api/tags HTTP/1.1\r\nHost: relay\r\n\r\n`);
  // Slowloris: one byte of a request head every 400 ms, never finished.
  const { socket: trickle, stop: stopDrip } = trickleHead(port, `GET /t/${TUNNEL_ID}/api/tags HTTP/1.1\r\nHost: relay\r\nX-Pad: ${"a".repeat(200)}`);
  // Meanwhile an admitted streamed answer with a 3 s silence inside.
  const stream = fetch(`${rig.relay.url}/t/${TUNNEL_ID}/api/generate`, {
    method: "POST",
    headers: { authorization: `Bearer ${CLIENT_KEY}` },
    body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi" }),
  }).then(async (r) => ({ status: r.status, body: await r.text() }));
  try {
    const [idle, slow, done] = await Promise.all([closedWithin(refused, 10_000), closedWithin(trickle, 30_000), stream]);
    expect(answer).toStartWith("HTTP/1.1 401");
    expect(idle).not.toBeNull();
    expect(slow).not.toBeNull();
    expect(done.status).toBe(200);
    const lines = done.body.trim().split("\n").map((l) => JSON.parse(l) as { response?: string; done?: boolean; error?: string });
    expect(lines.filter((l) => l.error)).toEqual([]);
    expect(lines.at(-1)!.done).toBe(true);
  } finally {
    stopDrip();
    refused.destroy();
    trickle.destroy();
  }
}, 45_000);
