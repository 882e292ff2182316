// The relay cluster when its Redis misbehaves, against real processes (Debian's redis-server, 3 relay nodes, HAProxy,
// a daemon as the agent): Redis restarted empty or flushed mid-stream, refusing writes, asking for a new password.
// Each fault gives one log line per cause, a /readyz reason, and clients a 503 with Retry-After in their dialect where
// a node cannot serve; when it clears, every node reaches the agent again and one node holds the tunnel.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID } from "../tunnel/helpers.ts";
import { DIALECTS, streamingCall, tokensIn } from "../tunnel/resume-helpers.ts";
import { clusterRedisKeys, type ClusterNode } from "./cluster-helpers.ts";
import { ownerOf, startClusterRig, type ClusterRig } from "./cluster-rig.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["redis-server", "haproxy"]);

const TOKENS = 40;
let rig: ClusterRig;

beforeAll(async () => {
  // Heartbeats (every node_ttl / 3 = 2 s) rarer than lease renewals (every lease_ttl / 3 = 1 s): after Redis loses its
  // records the holder's renewal comes before its next heartbeat.
  rig = await startClusterRig({ fake: { tokens: TOKENS, tokenDelayMs: 40 }, cluster: { nodeTtl: "6s" } });
}, 60_000);
afterAll(async () => {
  await rig?.stop();
});

const call = (n: ClusterNode, path: string) => fetch(`${n.url}/t/${TUNNEL_ID}${path}`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` }, signal: AbortSignal.timeout(10_000) });
const readiness = async (n: ClusterNode) => ((await (await fetch(`${n.url}/readyz`)).json()) as { cluster: { redis: string; reason?: string } }).cluster;
/** redis-cli against the test's Redis (admin commands the nodes' own link would not send). */
async function redisCli(...args: string[]): Promise<string> {
  const p = Bun.spawn(["redis-cli", "-p", String(rig.redis.port), ...args], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return out.trim();
}
/** Which nodes the tunnel's lease in Redis names (exactly one while it is held). */
async function leaseHolders(): Promise<string[]> {
  const { prefix } = clusterRedisKeys(rig.cluster);
  const node = await redisCli("HGET", `${prefix}:lease:${TUNNEL_ID}`, "node");
  return node ? [node] : [];
}
/** Every node answers the tunnel with 200 (directly or through a forward). */
async function everyNodeReaches(): Promise<boolean> {
  for (const n of rig.cluster.nodes) {
    const r = await call(n, "/api/tags");
    await r.arrayBuffer();
    if (r.status !== 200) return false;
  }
  return true;
}

describe("relay cluster: Redis faults", () => {
  for (const fault of ["restarted empty", "FLUSHALL"] as const) {
    test(`Redis ${fault} mid-stream: the streams complete, the owner reinstates its lease, no node is fenced, every node reaches the agent again`, async () => {
      const owner = await ownerOf(rig.cluster);
      const entry = rig.cluster.nodes.find((n) => n !== owner)!;
      const calls = DIALECTS.map((d) => streamingCall(entry.url, d));
      await Promise.all(calls.map((c) => c.started));
      if (fault === "FLUSHALL") expect(await redisCli("FLUSHALL")).toBe("OK");
      else {
        await rig.redis.kill();
        await rig.redis.start();
      }
      // Calls at every node meanwhile: each is answered (forwarded, or 503 while the lease is being put back).
      const t1 = performance.now();
      while (performance.now() - t1 < 1_500) {
        for (const n of rig.cluster.nodes) {
          const r = await call(n, "/api/tags");
          await r.arrayBuffer();
          expect([200, 502, 503]).toContain(r.status);
        }
      }
      const texts = await Promise.all(calls.map((c) => c.done));
      for (const t of texts) expect(tokensIn(t)).toEqual(Array.from({ length: TOKENS }, (_, n) => n));
      // The holder puts its lease back within a renewal period (lease_ttl 3 s / 3) and its reconnect.
      const t0 = performance.now();
      await until(everyNodeReaches, 5_000, "every node to reach the agent again");
      expect(performance.now() - t0).toBeLessThan(5_000);
      expect(await leaseHolders()).toEqual([owner.id]);
      expect((await ownerOf(rig.cluster)).id).toBe(owner.id);
      for (const n of rig.cluster.nodes) expect(n.stderr()).not.toMatch(/tunnel fenced|ignored a/);
      expect(rig.daemon.stderr() + rig.daemon.stdout()).not.toMatch(/replaced|displaced/);
    }, 40_000);
  }

  test("after FLUSHALL the holder's lease comes back only with its heartbeat: no node ever sees it name a non-member (nor logs it as forged)", async () => {
    const owner = await ownerOf(rig.cluster);
    const { prefix } = clusterRedisKeys(rig.cluster);
    const both = ["EVAL", "return {redis.call('EXISTS', KEYS[1]), redis.call('EXISTS', KEYS[2])}", "2", `${prefix}:lease:${TUNNEL_ID}`, `${prefix}:node:${owner.id}`];
    // Right after the owner's heartbeat: its next one is 2 s away, its next renewal at most 1 s.
    await until(async () => Number(await redisCli("PTTL", `${prefix}:node:${owner.id}`)) > 5_950, 5_000, "a fresh heartbeat of the owner");
    expect(await redisCli("FLUSHALL")).toBe("OK");
    const seen = await until(async () => {
      const [lease, heartbeat] = (await redisCli(...both)).split("\n").map(Number);
      return lease ? { lease, heartbeat } : null;
    }, 5_000, "the lease to be put back");
    expect(seen).toEqual({ lease: 1, heartbeat: 1 });
    await until(everyNodeReaches, 5_000, "every node to reach the agent again");
    for (const n of rig.cluster.nodes) expect(n.stderr()).not.toMatch(/ignored a/);
  }, 30_000);

  test("Redis frozen (SIGSTOP) longer than lease_ttl, then resumed: the owner serves throughout, the others answer 503 with Retry-After naming Redis; after it, leases are back and no node is fenced", async () => {
    const owner = await ownerOf(rig.cluster);
    const other = rig.cluster.nodes.find((n) => n !== owner)!;
    const pid = Number(/process_id:(\d+)/.exec(await redisCli("INFO", "server"))![1]);
    const lines = (n: ClusterNode) => n.stderr().match(/cluster Redis unreachable|cannot connect to the cluster's Redis/g)?.length ?? 0;
    const before = rig.cluster.nodes.map(lines);
    process.kill(pid, "SIGSTOP");
    try {
      await until(async () => (await readiness(other)).redis === "down", 5_000, `${other.id}'s /readyz to say Redis is down`);
      expect((await readiness(other)).reason).toMatch(/took longer than 500 ms/);
      const t0 = Date.now();
      // lease_ttl is 3 s: every lease expires on Redis's clock while it is frozen.
      while (Date.now() - t0 < 3_500) {
        const direct = await call(owner, "/api/tags");
        expect(direct.status).toBe(200);
        await direct.arrayBuffer();
        const r = await call(other, "/v1/models");
        expect(r.status).toBe(503);
        expect(r.headers.get("retry-after")).toBe("2");
        expect(((await r.json()) as { error: { code: string; message: string } }).error.message).toMatch(/cannot reach the cluster's Redis/);
        await Bun.sleep(250);
      }
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await until(everyNodeReaches, 8_000, "every node to reach the agent again");
    expect(await leaseHolders()).toEqual([owner.id]);
    for (const n of rig.cluster.nodes) expect(n.stderr()).not.toMatch(/tunnel fenced/);
    expect(rig.daemon.stderr() + rig.daemon.stdout()).not.toMatch(/replaced|displaced/);
    // Per node: that Redis went away and why it cannot be reached again, once each, not at every call or retry (a
    // third line when the reason changes as Redis wakes, e.g. from a timeout to a closed connection).
    for (const [i, n] of rig.cluster.nodes.entries()) expect([2, 3]).toContain(lines(n) - before[i]!);
  }, 40_000);

  test("Redis refusing writes (out of memory, then too few replicas): said once per cause, /readyz names it, the owner serves, the others forward while the lease lasts, then answer 503 with Retry-After in the caller's dialect (not 502 'not connected'); then back", async () => {
    const owner = await ownerOf(rig.cluster);
    const other = rig.cluster.nodes.find((n) => n !== owner)!;
    const warnings = (n: ClusterNode) => n.stderr().match(/cluster Redis refuses this node's writes/g)?.length ?? 0;
    const before = rig.cluster.nodes.map(warnings);
    // Out of memory, Redis still takes PEXPIRE: the owner's lease is renewed and forwards go on. Too few replicas
    // refuses every write: the lease expires after lease_ttl (3 s) and the others can no longer tell where the agent is.
    for (const [set, reset, words, expired] of [
      [["maxmemory", "1"], ["maxmemory", "0"], /out of memory/, false],
      [["min-replicas-to-write", "1"], ["min-replicas-to-write", "0"], /fewer replicas/, true],
    ] as const) {
      try {
        expect(await redisCli("CONFIG", "SET", ...set)).toBe("OK");
        await until(async () => (await readiness(other)).redis === "down", 5_000, `${other.id}'s /readyz to say Redis is down`);
        expect((await readiness(other)).reason).toMatch(words);
        const t0 = Date.now();
        const seen = new Set<number>();
        while (Date.now() - t0 < 4_000) {
          const r = await call(owner, "/api/tags");
          expect(r.status).toBe(200);
          await r.arrayBuffer();
          const ollama = await call(other, "/api/tags");
          seen.add(ollama.status);
          if (ollama.status === 200) await ollama.arrayBuffer();
          else {
            expect(ollama.status).toBe(503);
            expect(ollama.headers.get("retry-after")).toBe("2");
            expect(ollama.headers.get("x-c2l-error-code")).toBe("unavailable");
            expect(((await ollama.json()) as { error: string }).error).toMatch(words);
            const openai = await call(other, "/v1/models");
            expect(openai.status).toBe(503);
            expect(((await openai.json()) as { error: { code: string; message: string } }).error.message).toMatch(words);
          }
          await Bun.sleep(200);
        }
        expect(seen.has(503)).toBe(expired);
        if (!expired) expect([...seen]).toEqual([200]);
      } finally {
        await redisCli("CONFIG", "SET", ...reset);
      }
      for (const n of rig.cluster.nodes) await until(async () => (await readiness(n)).redis === "up", 5_000, `${n.id}'s /readyz to say Redis is up again`);
      await until(everyNodeReaches, 5_000, "every node to reach the agent again");
      expect(await leaseHolders()).toEqual([owner.id]);
    }
    // One warning per outage at each node, however many calls and renewals met it.
    rig.cluster.nodes.forEach((n, i) => expect(warnings(n) - before[i]!).toBe(2));
    for (const n of rig.cluster.nodes) expect(n.stderr()).not.toMatch(/lease renewal failed|tunnel claim failed|ignored a/);
  }, 60_000);

  test("Redis asking for a new password after a restart: /readyz and the log say it needs one; forwarding answers 503; back when the password goes", async () => {
    const owner = await ownerOf(rig.cluster);
    const other = rig.cluster.nodes.find((n) => n !== owner)!;
    try {
      expect(await redisCli("CONFIG", "SET", "requirepass", "a-new-password-0123")).toBe("OK");
      // The nodes' connections were authenticated before: drop them, as a restart would.
      await redisCli("-a", "a-new-password-0123", "--no-auth-warning", "CLIENT", "KILL", "TYPE", "normal");
      await redisCli("-a", "a-new-password-0123", "--no-auth-warning", "CLIENT", "KILL", "TYPE", "pubsub");
      // First the closed connection, then, at the node's next attempt, why it cannot connect again.
      await until(async () => /Redis requires a password: give it in cluster.redis_url/.test((await readiness(other)).reason ?? ""), 5_000, `${other.id}'s /readyz to say Redis wants a password`);
      expect((await readiness(other)).redis).toBe("down");
      const r = await call(other, "/api/tags");
      expect(r.status).toBe(503);
      expect(r.headers.get("retry-after")).toBe("2");
      expect(((await r.json()) as { error: string }).error).toMatch(/requires a password/);
      const direct = await call(owner, "/api/tags");
      expect(direct.status).toBe(200);
      await direct.arrayBuffer();
      // The log says why too, once, however often the node tries again meanwhile.
      await Bun.sleep(1_000);
      for (const n of rig.cluster.nodes) expect(n.stderr().match(/cannot connect to the cluster's Redis.*Redis requires a password: give it in cluster.redis_url/g)?.length).toBe(1);
      expect(other.stderr()).not.toMatch(/a-new-password-0123/);
    } finally {
      await redisCli("-a", "a-new-password-0123", "--no-auth-warning", "CONFIG", "SET", "requirepass", "");
    }
    await until(everyNodeReaches, 8_000, "every node to reach the agent again");
    expect(await leaseHolders()).toEqual([owner.id]);
  }, 40_000);
});
