// A resume offered to a relay that restarted since (its state lost with its process): the relay refuses it, the agent
// cancels the generation at once rather than after its resume window, and counts it; a new call works.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { freePort } from "../../bench/lib/proc.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";
import { DIALECTS, metric, streamingCall } from "./resume-helpers.ts";

let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;
let port: number;

beforeAll(async () => {
  // Long answers: still generating when the relay comes back.
  fake = await startFakeOllama({ tokens: 2000, tokenDelayMs: 20 });
  port = await freePort();
  relay = await startRelayProc(relayToml({ listen: `127.0.0.1:${port}`, extra: 'resume_window = "60s"' }));
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${port}/agent`, tunnel: 'resume_window = "60s"' }));
}, 30_000);

afterAll(async () => {
  await daemon?.stop();
  await relay?.stop("SIGKILL");
  await fake?.stop();
  cleanup(relay?.dir, daemon?.home);
}, 30_000);

test("the relay killed mid-stream and started again with no state: its refusal of the agent's offers cancels both generations at once, not after the 60 s window; the agent counts them failed and its log says the relay refused them, not that they ran out of time", async () => {
  const token = (await Bun.file(`${daemon.home}/.config/cloudtolocalllm/api-token`).text()).trim();
  const auth = { Authorization: `Bearer ${token}` };
  const calls = DIALECTS.map((d) => streamingCall(relay.url, d));
  await Promise.all(calls.map((c) => c.started));
  const aborted = fake.aborts.length;
  relay.proc.kill("SIGSTOP");
  await daemon.waitFor(/heartbeat_timeout/, 10_000);
  await relay.stop("SIGKILL");
  // The clients' connections died with the relay: nothing can carry a line to them.
  for (const c of calls) await c.done.catch(() => {});
  relay = await startRelayProc(relayToml({ listen: `127.0.0.1:${port}`, extra: 'resume_window = "60s"' }), relay.dir);
  // Refused at once: well within the agent's 60 s window.
  await until(() => fake.aborts.length - aborted >= 2 || null, 15_000, "both generations cancelled at the upstream");
  expect(daemon.count(/ warn tunnel: the relay will not resume an answer \(no client waits for it there\); its upstream request is cancelled reason=refused /)).toBe(2);
  expect(await metric(daemon.urls.api!, "cloudtolocalllm_tunnel_resume_failed_total", auth)).toBe(2);
  expect(await metric(daemon.urls.api!, "cloudtolocalllm_tunnel_resumed_streams_total", auth)).toBe(0);
  // The new relay counts the offers no client waited for (reason "unknown", docs/relay.md), and resumed none.
  expect(await (await fetch(`${relay.url}/metrics`)).text()).toMatch(/^cloudtolocalllm_relay_resume_failed_total\{reason="unknown"\} 2$/m);
  expect(await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total")).toBe(0);
  // And the tunnel serves the next call.
  const tags = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
  expect(tags.status).toBe(200);
}, 60_000);
