// What the relay's and the agent's /metrics say about calls through a tunnel, against what happened (real relay,
// daemon and fake upstream): refusals counted by status, their log lines bounded, the text valid for promtool.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { startLatencyLink } from "../helpers/latency-link.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, daemonToml, relayToml, removeHome, cleanup, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

setDefaultTimeout(60_000);
let fake: FakeOllama;
let relay: RelayProc;
let d: DaemonProc | undefined;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 3 });
  relay = await startRelayProc(relayToml());
  d = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: relay.url.replace("http", "ws") + "/agent" }));
});
afterAll(async () => {
  await d?.stop();
  await relay?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
  cleanup(relay?.dir);
});

const chat = (key: string) =>
  fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: false }),
  });

/** The value of one series in Prometheus text (0 when absent). */
function series(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

test("a cloud client asking for refused paths in a flood writes one daemon log line per kind per 10 s, not one per request; tunnel_requests_total counts each", async () => {
  const call = (path: string, method = "GET") => fetch(`${relay.url}/t/${TUNNEL_ID}${path}`, { method, headers: { authorization: `Bearer ${CLIENT_KEY}` } });
  for (let i = 0; i < 20; i++) expect((await call(`/debug/pprof${i}`)).status).toBe(403);
  for (let i = 0; i < 20; i++) expect((await call("/api/pull", "POST")).status).toBe(403);
  // Respelled paths (the refusal names the route and the spelling): each new route is no new kind.
  for (let i = 0; i < 20; i++) expect((await call(`/DEBUG/pprof${i}`)).status).toBe(403);
  for (let i = 0; i < 20; i++) expect((await call(`/api/chat;${i}`, "POST")).status).toBe(404);
  const text = await (await fetch(`${d!.urls.api}/metrics`)).text();
  expect(series(text, 'cloudtolocalllm_tunnel_requests_total{status="403"}')).toBe(60);
  const lines = d!.stderr().split("\n").filter((l) => l.includes("refused a request from the relay"));
  // The four kinds (a path not allowed, model management, a respelled path not allowed, a ';' parameter), each with
  // the first path that was refused.
  expect(lines).toHaveLength(4);
  expect(lines[0]).toContain("path=/debug/pprof0");
  expect(lines[1]).toContain("path=/api/pull");
  expect(lines[2]).toContain("path=/DEBUG/pprof0");
  expect(lines[3]).toContain("path=/api/chat;0");
});

test("relay requests_total{status} counts every client call by the status it got: refused keys (401) and an offline tunnel (502) too, not only answers", async () => {
  expect((await chat(CLIENT_KEY)).status).toBe(200);
  for (let i = 0; i < 7; i++) expect((await chat(`wrong-key-${i}`)).status).toBe(401);
  await d!.stop();
  await relay.waitFor(/agent disconnected tunnel=alice/);
  const offline = await chat(CLIENT_KEY);
  expect(offline.status).toBe(502);
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  expect({
    ok: series(text, 'cloudtolocalllm_relay_requests_total{status="200"}'),
    refused: series(text, 'cloudtolocalllm_relay_requests_total{status="401"}'),
    offline: series(text, 'cloudtolocalllm_relay_requests_total{status="502"}'),
  }).toEqual({ ok: 1, refused: 7, offline: 1 });
});

requireTools(["promtool"]).test("the relay's /metrics after answers and refusals passes promtool check metrics", async () => {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  const p = Bun.spawn(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  expect(out + err).toBe("");
  expect(code).toBe(0);
});

test("tunnel_rtt_seconds is the connected session's last heartbeat round trip (40 ms each way: about 0.08 s), not a value frozen at the connect", async () => {
  const link = await startLatencyLink(relay.port, 40);
  let agent: DaemonProc | undefined;
  try {
    agent = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${link.port}/agent` }));
    const rtt = async () => series(await (await fetch(`${agent!.urls.api}/metrics`)).text(), "cloudtolocalllm_tunnel_rtt_seconds");
    // Heartbeats every 300 ms: the first answered one is at most a second away, however loaded the machine.
    await until(async () => (await rtt()) >= 0.07, 15_000, "a heartbeat's round trip in /metrics");
    expect(await rtt()).toBeLessThan(5);
  } finally {
    await agent?.stop();
    link.stop();
    if (agent) removeHome(agent.home);
  }
});
