// The set-up the cluster tests share: Redis, a fake Ollama, N relay nodes, HAProxy in front, and one agent daemon
// connected through HAProxy; and which node holds a tunnel, as the cluster-wide listing says.
import type { DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama, type FakeOllamaOptions } from "../helpers/fake-ollama.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { until } from "../helpers/until.ts";
import { ADMIN_TOKEN, TUNNEL_ID, cleanup, daemonToml, startAgentDaemon } from "../tunnel/helpers.ts";
import { startCluster, startHaproxy, type ClusterNode, type ClusterOptions, type TestCluster, type TestHaproxy } from "./cluster-helpers.ts";

export interface ClusterRig {
  redis: TestRedis;
  fake: FakeOllama;
  cluster: TestCluster;
  lb: TestHaproxy;
  daemon: DaemonProc;
  stop(): Promise<void>;
}

export interface ClusterRigOptions {
  fake?: FakeOllamaOptions;
  cluster?: Omit<ClusterOptions, "redisUrl">;
  /** HAProxy's server check options (default: the documented ones). */
  checks?: string;
  /** The agent's [tunnel.backoff] initial and max. */
  backoff?: [string, string];
}

export async function startClusterRig(o: ClusterRigOptions = {}): Promise<ClusterRig> {
  const redis = await startRedis();
  const fake = await startFakeOllama(o.fake);
  const cluster = await startCluster({ redisUrl: redis.url, ...o.cluster });
  const lb = await startHaproxy(cluster.nodes, o.checks);
  const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${lb.url.replace(/^http/, "ws")}/agent`, backoff: o.backoff }));
  return {
    redis,
    fake,
    cluster,
    lb,
    daemon,
    async stop() {
      await daemon.stop();
      await lb.stop();
      await cluster.stop();
      await fake.stop();
      await redis.stop();
      cleanup(daemon.home);
    },
  };
}

/** The node holding a tunnel's agent, as the cluster-wide listing of `via` (default: a live node other than `not`) says; waits for exactly one that is not `not`. */
export async function ownerOf(cluster: TestCluster, o: { tunnel?: string; via?: ClusterNode; not?: ClusterNode } = {}): Promise<ClusterNode> {
  const tunnel = o.tunnel ?? TUNNEL_ID;
  const id = await until(async () => {
    const via = o.via ?? cluster.nodes.find((n) => n.proc.exitCode === null && n !== o.not)!;
    const r = await fetch(`${via.url}/api/tunnels`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    if (r.status !== 200) throw new Error(`${via.id}'s listing answered ${r.status}`);
    const hits = ((await r.json()) as { tunnels: { id: string; node: string }[] }).tunnels.filter((t) => t.id === tunnel);
    return hits.length === 1 && hits[0]!.node !== o.not?.id ? hits[0]!.node : null;
  }, 10_000, `one node${o.not ? ` other than ${o.not.id}` : ""} to hold ${tunnel}`);
  return cluster.nodes.find((n) => n.id === id)!;
}
