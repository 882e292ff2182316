// What /metrics says about an answer resumed after a lost relay connection, against what the client got: the body
// bytes of the whole answer are counted on both sides, its stream is in flight until it ends (real relay and daemon).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { until } from "../helpers/until.ts";
import { relayToml } from "./helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";
import { DIALECTS, metric, pauseRelayPastTolerance, streamingCall, tokensIn } from "./resume-helpers.ts";

setDefaultTimeout(40_000);
const TOKENS = 40;
let rig: TunnelRig;

beforeAll(async () => {
  rig = await startTunnelRig({ fake: { tokens: TOKENS, tokenDelayMs: 60 }, relayToml: relayToml({ extra: 'resume_window = "20s"' }) });
});
afterAll(() => rig?.stop());

test("a resumed answer's bytes are all in bytes_total: the relay's from_agent and the agent's out cover what the client received", async () => {
  const { relay, daemon } = rig;
  const call = streamingCall(relay.url, DIALECTS[0]);
  await call.started;
  await pauseRelayPastTolerance(relay, daemon);
  const text = await call.done;
  expect(tokensIn(text)).toEqual(Array.from({ length: TOKENS }, (_, k) => k));
  const received = new TextEncoder().encode(text).byteLength;
  expect(await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total")).toBe(1);
  const token = (await Bun.file(`${daemon.home}/.config/cloudtolocalllm/api-token`).text()).trim();
  const daemonMetric = (name: string) => metric(daemon.urls.api!, name, { Authorization: `Bearer ${token}` });
  // Counted when the stream ends, a moment after the client's last byte.
  const bytes = async (url: string, name: string) => (await (await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${token}` } })).text()).match(new RegExp(`^${name} (\\d+)`, "m"))?.[1];
  await until(async () => Number(await bytes(relay.url, 'cloudtolocalllm_relay_bytes_total\\{direction="from_agent"\\}')) >= received || null, 5_000, `the relay to count the ${received} bytes the client got`).catch(() => {});
  await until(async () => Number(await bytes(daemon.urls.api!, 'cloudtolocalllm_tunnel_bytes_total\\{direction="out"\\}')) >= received || null, 5_000, `the agent to count the ${received} bytes the client got`).catch(() => {});
  expect({
    relay: Number(await bytes(relay.url, 'cloudtolocalllm_relay_bytes_total\\{direction="from_agent"\\}')) >= received,
    agent: Number(await bytes(daemon.urls.api!, 'cloudtolocalllm_tunnel_bytes_total\\{direction="out"\\}')) >= received,
    relayStreams: await metric(relay.url, "cloudtolocalllm_relay_streams_active"),
    agentStreams: await daemonMetric("cloudtolocalllm_tunnel_streams_active"),
  }).toEqual({ relay: true, agent: true, relayStreams: 0, agentStreams: 0 });
});
