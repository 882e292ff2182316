// What /metrics says about an answer resumed across a relay cluster (Debian's redis-server, 3 real relay nodes, HAProxy
// in front, a real daemon as the agent): the node holding the client counts the resume and the bytes the agent sent
// again, as many as the agent counts, though the bytes it sent into the lost node never reached the client's node.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { DIALECTS, metric, streamingCall, tokensIn } from "../tunnel/resume-helpers.ts";
import type { ClusterNode } from "./cluster-helpers.ts";
import { ownerOf, startClusterRig, type ClusterRig } from "./cluster-rig.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server", "haproxy"]);

const TOKENS = 120;
let rig: ClusterRig;

beforeAll(async () => {
  rig = await startClusterRig({ fake: { tokens: TOKENS, tokenDelayMs: 40 } });
}, 60_000);

afterAll(async () => {
  await rig?.stop();
});

test("the node holding the client counts a resume's replayed bytes as the agent does (the owner frozen mid-stream: what the agent sent into it is sent again)", async () => {
  const { cluster, daemon } = rig;
  const owner: ClusterNode = await ownerOf(cluster);
  const entry = cluster.nodes.find((n) => n !== owner)!;
  const token = (await Bun.file(`${daemon.home}/.config/cloudtolocalllm/api-token`).text()).trim();
  const agentMetric = (name: string) => metric(daemon.urls.api!, name, { Authorization: `Bearer ${token}` });
  const before = { relay: await metric(entry.url, "cloudtolocalllm_relay_replayed_bytes_total"), agent: await agentMetric("cloudtolocalllm_tunnel_replayed_bytes_total") };
  const call = streamingCall(entry.url, DIALECTS[0]);
  await call.started;
  // Frozen, not killed: the agent goes on sending into the frozen node's socket until its heartbeat tolerance ends, so
  // bytes the client never got are sure to be sent again.
  owner.proc.kill("SIGSTOP");
  try {
    const text = await call.done;
    expect(tokensIn(text)).toEqual(Array.from({ length: TOKENS }, (_, k) => k));
    const after = { relay: await metric(entry.url, "cloudtolocalllm_relay_replayed_bytes_total"), agent: await agentMetric("cloudtolocalllm_tunnel_replayed_bytes_total") };
    const replayed = { relay: after.relay - before.relay, agent: after.agent - before.agent };
    expect(replayed.agent).toBeGreaterThan(0);
    expect(replayed).toEqual({ relay: replayed.agent, agent: replayed.agent });
    expect(await metric(entry.url, "cloudtolocalllm_relay_resumed_streams_total")).toBe(1);
  } finally {
    owner.proc.kill("SIGKILL");
    await owner.proc.exited;
  }
}, 60_000);
