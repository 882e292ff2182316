// Integration: a reload that changes a [tunnel] setting the connection was made with (docs/configuration.md's reload table): the answers in flight through the tunnel end with an error in their dialect, and the agent reconnects.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { until } from "../helpers/until.ts";
import { apiToken } from "../helpers/daemon.ts";
import { CLIENT_KEY, TUNNEL_ID } from "./helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";

// Real processes on a busy machine: more than bun's 5 s default.
setDefaultTimeout(60_000);

let rig: TunnelRig;
beforeAll(async () => {
  rig = await startTunnelRig({ fake: { tokens: 60, tokenDelayMs: 100 }, heartbeat: ["300ms", "1200ms"] });
});
afterAll(async () => {
  await rig?.stop();
});

async function save(text: string, sections: string): Promise<void> {
  const seen = rig.daemon.stderr().length;
  writeFileSync(rig.daemon.configFile, text);
  await until(() => rig.daemon.stderr().slice(seen).includes(`configuration reloaded sections=${sections}`), 10_000, `the reload of ${sections}`);
}

test("a [tunnel] heartbeat change: a stream in flight through the tunnel ends with an error line naming the change, a call waiting in the queue ends with it, and the agent reconnects", async () => {
  const config = readFileSync(rig.daemon.configFile, "utf8");
  // One generation at a time, so the second call waits in the broker's queue.
  await save(config.replace(/(url = "http:\/\/127\.0\.0\.1:\d+"\n)/, "$1max_parallel = 1\n"), "upstreams");
  const call = (path: string, body: unknown) => fetch(`${rig.relay.url}/t/${TUNNEL_ID}${path}`, { method: "POST", headers: { authorization: `Bearer ${CLIENT_KEY}` }, body: JSON.stringify(body) });
  const res = await call("/api/chat", { model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] });
  expect(res.status).toBe(200);
  const queued = call("/v1/chat/completions", { model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] });
  const token = await apiToken(rig.daemon);
  await until(async () => ((await (await fetch(`${rig.daemon.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { queue?: { waiting: number } }).queue?.waiting === 1, 5_000, "the second call waiting");
  const reader = res.body!.getReader();
  let text = "";
  const dec = new TextDecoder();
  while (!text.includes("\n")) text += dec.decode((await reader.read()).value, { stream: true });
  const connects = rig.daemon.count(/tunnel: connected to the relay/);
  writeFileSync(rig.daemon.configFile, readFileSync(rig.daemon.configFile, "utf8").replace('interval = "300ms"', 'interval = "400ms"'));
  // The call that waited ends with the connection too, in its own dialect (OpenAI's), never sent upstream.
  const waited = await queued;
  expect(waited.status).toBe(502);
  expect(((await waited.json()) as { error: { code: string } }).error.code).toBe("tunnel_offline");
  for (let r = await reader.read(); !r.done; r = await reader.read()) text += dec.decode(r.value, { stream: true });
  const lines = text.trim().split("\n").map((l) => JSON.parse(l) as { done?: boolean; error?: string });
  // Not a finished answer: no done line, and the last line says why, in Ollama's shape.
  expect(lines.some((l) => l.done === true)).toBe(false);
  expect(lines.at(-1)!.error).toContain("configuration changed");
  expect(rig.fake.requests.filter((r) => r.path === "/v1/chat/completions")).toHaveLength(0);
  await until(() => rig.daemon.count(/tunnel: connected to the relay/) > connects, 15_000, "the agent reconnected");
});
