// Resumable streams across a relay cluster (Debian's redis-server, 3 real relay nodes, HAProxy in front, a real daemon
// as the agent): the node holding the agent drained with SIGTERM, killed, or frozen mid-stream while the client is
// connected to another node; the client's node takes the answer over where the agent reconnected, across the hop.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import type { FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { CLIENT_KEY, TUNNEL_ID } from "../tunnel/helpers.ts";
import { DIALECTS, metric, streamingCall, tokensIn } from "../tunnel/resume-helpers.ts";
import type { ClusterNode, TestCluster } from "./cluster-helpers.ts";
import { until } from "../helpers/until.ts";
import { ownerOf as ownerAt, startClusterRig, type ClusterRig } from "./cluster-rig.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["redis-server", "haproxy"]);

const TOKENS = 120;
let fake: FakeOllama;
let cluster: TestCluster;
let daemon: DaemonProc;

let rig: ClusterRig;
const ownerOf = (not?: ClusterNode) => ownerAt(cluster, { not });

beforeAll(async () => {
  // A 1 s grace: the drained node closes the agent's session long before these answers end. A lease well past
  // node_ttl, as by default (10 s, 6 s): a frozen owner's lease still names it when the other nodes give up on it.
  rig = await startClusterRig({ fake: { tokens: TOKENS, tokenDelayMs: 40 }, cluster: { goAwayGrace: "1s", leaseTtl: "10s" } });
  ({ fake, cluster, daemon } = rig);
}, 60_000);

afterAll(async () => {
  await rig?.stop();
});

describe("relay cluster: resumable streams", () => {
  // SIGSTOP: the node freezes (a paused VM, a network that drops): its connections never break, so the client's node
  // must notice it stopped beating and answering, or the answers (and new calls) would hang.
  for (const signal of ["SIGTERM", "SIGKILL", "SIGSTOP"] as const) {
    test(`${signal} of the node holding the agent mid-stream, the client on another node: NDJSON and SSE complete with every token once, in order; one generation each`, async () => {
      const owner = await ownerOf();
      const i = cluster.nodes.indexOf(owner);
      const entry = cluster.nodes.find((n) => n !== owner)!;
      const before = fake.requests.length;
      const aborts = fake.aborts.length;
      const resumedBefore = await metric(entry.url, "cloudtolocalllm_relay_resumed_streams_total");
      try {
        const calls = DIALECTS.map((d) => streamingCall(entry.url, d));
        await Promise.all(calls.map((c) => c.started));
        owner.proc.kill(signal);
        if (signal === "SIGSTOP") {
          // A new call meanwhile is answered (by the agent's new node, or 503 tunnel_moving while it moves), never left waiting.
          const r = await fetch(`${entry.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` }, signal: AbortSignal.timeout(20_000) });
          expect([200, 503]).toContain(r.status);
          if (r.status === 503) expect(r.headers.get("x-c2l-error-code")).toBe("tunnel_moving");
          await r.arrayBuffer();
        }
        const texts = await Promise.all(calls.map((c) => c.done));
        for (const [k, d] of DIALECTS.entries()) {
          expect(tokensIn(texts[k]!)).toEqual(Array.from({ length: TOKENS }, (_, n) => n));
          expect(texts[k]!).toMatch(d.done);
          expect(texts[k]!).not.toMatch(/"error"/);
        }
        const generations = fake.requests.slice(before).filter((r) => DIALECTS.some((d) => d.path === r.path));
        expect(generations.length).toBe(2);
        expect(fake.aborts.length).toBe(aborts);
        expect(await metric(entry.url, "cloudtolocalllm_relay_resumed_streams_total")).toBe(resumedBefore + 2);
        expect(await ownerOf(owner)).not.toBe(owner);
        if (signal === "SIGTERM") expect(await owner.proc.exited).toBe(0);
        if (signal === "SIGSTOP") expect(entry.stderr()).toMatch(new RegExp(`calls to a relay node that stopped answering were aborted node=${owner.id} calls=\\d`));
      } finally {
        if (signal === "SIGSTOP") owner.proc.kill("SIGKILL");
        await owner.proc.exited;
        await cluster.restart(i);
      }
    }, 60_000);
  }

  // The order a loaded machine brings about: the client's node gives up on the frozen node before the agent is back
  // elsewhere, so its first resume asks the frozen node (its lease, still unexpired, names it) and gets no answer
  // either. The agent is held frozen until the client's node has given up, so that order is not left to chance.
  test("SIGSTOP of the node holding the agent, the agent back only after the client's node gave up on it: the resume asked of the frozen node is given up too, and both answers complete", async () => {
    const owner = await ownerOf();
    const i = cluster.nodes.indexOf(owner);
    const entry = cluster.nodes.find((n) => n !== owner)!;
    const before = fake.requests.length;
    const resumedBefore = await metric(entry.url, "cloudtolocalllm_relay_resumed_streams_total");
    const gaveUp = new RegExp(`calls to a relay node that stopped answering were aborted node=${owner.id} calls=\\d`);
    const seen = entry.count(gaveUp);
    try {
      const calls = DIALECTS.map((d) => streamingCall(entry.url, d));
      await Promise.all(calls.map((c) => c.started));
      daemon.proc.kill("SIGSTOP");
      owner.proc.kill("SIGSTOP");
      await until(() => entry.count(gaveUp) > seen, 30_000, `${entry.id} to give up its calls at the frozen ${owner.id}`);
      daemon.proc.kill("SIGCONT");
      const texts = await Promise.all(calls.map((c) => c.done));
      for (const [k, d] of DIALECTS.entries()) {
        expect(tokensIn(texts[k]!)).toEqual(Array.from({ length: TOKENS }, (_, n) => n));
        expect(texts[k]!).toMatch(d.done);
      }
      expect(fake.requests.slice(before).filter((r) => DIALECTS.some((d) => d.path === r.path)).length).toBe(2);
      expect(await metric(entry.url, "cloudtolocalllm_relay_resumed_streams_total")).toBe(resumedBefore + 2);
      expect(await ownerOf(owner)).not.toBe(owner);
    } finally {
      daemon.proc.kill("SIGCONT");
      owner.proc.kill("SIGKILL");
      await owner.proc.exited;
      await cluster.restart(i);
    }
  }, 60_000);

  test("a node's /internal/resume answers only a signed request: an unsigned one naming a token and an offset is refused", async () => {
    const node = cluster.nodes.find((n) => n.proc.exitCode === null)!;
    const r = await fetch(`${node.internalUrl}/internal/resume/${TUNNEL_ID}`, { headers: { "x-c2l-resume": "q2Vv8k3xR0a9bL1cD4eF5g", "x-c2l-resume-offset": "0" } });
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/^node-to-node request refused/);
  });
});
