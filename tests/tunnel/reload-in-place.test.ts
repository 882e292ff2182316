// A reload that changes only the paths (or the grace, or the resume window) of [tunnel] applies them to the open
// connection: the stream the cloud is being answered on goes on, and the next request is checked against the new paths.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc } from "./helpers.ts";

let fake: FakeOllama;
const auth = { Authorization: `Bearer ${CLIENT_KEY}` };

beforeAll(async () => {
  fake = await startFakeOllama({ tokens: 200, tokenDelayMs: 20 });
});
afterAll(async () => {
  await fake?.stop();
});

/** Lines of an NDJSON body read until `n` have arrived. */
async function readLines(reader: ReadableStreamDefaultReader<Uint8Array>, n: number, seen: string[]): Promise<void> {
  const dec = new TextDecoder();
  let buf = "";
  while (seen.length < n) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended after ${seen.length} lines`);
    buf += dec.decode(value, { stream: true });
    const lines = buf.split("\n");
    buf = lines.pop()!;
    seen.push(...lines.filter(Boolean));
  }
}

test("a reload that changes only allow_model_management keeps the connection and the stream in flight, and lets the next request through", async () => {
  const relay = await startRelayProc(relayToml());
  const wsUrl = `${relay.url.replace(/^http/, "ws")}/agent`;
  const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: wsUrl }));
  try {
    const pull = () => fetch(`${relay.url}/t/${TUNNEL_ID}/api/pull`, { method: "POST", headers: auth, body: JSON.stringify({ model: "llama3.2:1b", stream: false }) });
    expect((await pull()).status).toBe(403);
    const res = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, { method: "POST", headers: auth, body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi" }) });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const lines: string[] = [];
    await readLines(reader, 3, lines);

    await Bun.write(daemon.configFile, daemonToml({ upstream: fake.url, relayUrl: wsUrl, tunnel: "allow_model_management = true" }));
    daemon.proc.kill("SIGHUP");
    await daemon.waitFor(/configuration reloaded.*sections=tunnel/, 5_000);

    // The stream goes on to its last line: every token once, in order, the final line done.
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      lines.push(...new TextDecoder().decode(value).split("\n").filter(Boolean));
    }
    const parsed = lines.map((l) => JSON.parse(l) as { done: boolean; response?: string; error?: string });
    expect(parsed.filter((p) => p.error)).toEqual([]);
    expect(parsed.at(-1)!.done).toBe(true);
    expect(parsed.filter((p) => !p.done).length).toBe(200);
    expect(fake.requests.filter((r) => r.path === "/api/generate").length).toBe(1);
    expect(daemon.count(/tunnel settings applied to the open connection.*fields=allow_model_management/)).toBe(1);
    // Same connection: the relay saw no disconnect, the agent no reconnect.
    expect(relay.count(/agent disconnected/)).toBe(0);
    expect(relay.count(/agent connected/)).toBe(1);
    // The new setting holds for the next request.
    expect((await pull()).status).not.toBe(403);

    // A setting the connection was made with (the heartbeat) still reconnects.
    await Bun.write(daemon.configFile, daemonToml({ upstream: fake.url, relayUrl: wsUrl, tunnel: "allow_model_management = true", heartbeat: ["400ms", "1500ms"] }));
    daemon.proc.kill("SIGHUP");
    await relay.waitFor(/agent disconnected/, 5_000);
    for (let i = 0; i < 50 && relay.count(/agent connected/) < 2; i++) await Bun.sleep(100);
    expect(relay.count(/agent connected/)).toBe(2);
    expect((await fetch(`${relay.url}/t/${TUNNEL_ID}/api/version`, { headers: auth })).status).toBe(200);
  } finally {
    await daemon.stop();
    await relay.stop();
    cleanup(relay.dir, daemon.home);
  }
}, 30_000);
