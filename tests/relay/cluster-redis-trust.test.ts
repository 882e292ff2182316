// Redis as an attacker's foothold, against Debian's redis-server and real relay nodes: leases and heartbeats written
// straight into Redis without the cluster's secret (a forged owner URL, another node name, a node that is not a
// member) are ignored and logged, forwarded calls never go to them, and the real owner takes its tunnel back; with
// requirepass and an ACL user the nodes authenticate from redis_url, a wrong or missing password is named clearly,
// and the password never appears in logs or status; rediss:// with a private CA.
import { expect } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { requireTools } from "../helpers/requires.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { until } from "../helpers/until.ts";
import { ADMIN_TOKEN, cleanup } from "../tunnel/helpers.ts";
import { BOB_KEY, BOB_TOKEN, clusterRedisKeys, startCluster, startClusterNode, writeClusterSecret, type ClusterNode, type TestCluster } from "./cluster-helpers.ts";
import { connect, type Connection } from "../../src/tunnel/connector.ts";
import { serveStream } from "../../src/protocol/http-over-stream.ts";
import { signRecord } from "../../src/relay/cluster/record-signature.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["redis-server"]);
const withOpenssl = requireTools(["redis-server", "openssl"]);

const PASSWORD = "redis-pw-for-tests-7f3a";

async function metric(node: ClusterNode, name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((a, l) => a + Number(l.split(" ").at(-1)), 0);
}

type Listing = { tunnels: { id: string; node: string }[]; nodes: { id: string }[] };
const listing = async (n: ClusterNode) => (await (await fetch(`${n.url}/api/tunnels`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as Listing;
type Readiness = { cluster: { redis: string; reason?: string } };
/** A node's readiness report (in the error's details when it is not ready: a node that has not reached Redis since it started). */
const readyz = async (n: ClusterNode): Promise<Readiness> => {
  const body = (await (await fetch(`${n.url}/readyz`)).json()) as Readiness & { error?: { details: Readiness } };
  return body.error?.details ?? body;
};
const callBob = (n: ClusterNode) => fetch(`${n.url}/t/bob/api/tags`, { headers: { Authorization: `Bearer ${BOB_KEY}` } });

for (const mode of [{ name: "without a password", password: undefined }, { name: "with requirepass (the password in redis_url)", password: PASSWORD }]) {
  describe(`Redis ${mode.name}`, () => {
    let redis: TestRedis;
    let cluster: TestCluster;
    let attacker: Server<undefined>;
    const stolen: string[] = [];
    let agent: Connection;
    let n1: ClusterNode;
    let n2: ClusterNode;

    beforeAll(async () => {
      redis = await startRedis({ password: mode.password });
      // Where a forged record points: it records whatever reaches it (a prompt, a client key, a node signature).
      attacker = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: async (req) => (stolen.push(`${req.method} ${new URL(req.url).pathname}`), Response.json({ agent: "attacker" })) });
      cluster = await startCluster({ redisUrl: redis.url, size: 2 });
      [n1, n2] = cluster.nodes as [ClusterNode, ClusterNode];
      agent = await connect({
        url: `${n1.url.replace(/^http/, "ws")}/agent`,
        token: BOB_TOKEN,
        agent: "real",
        heartbeatMs: 1000,
        toleranceMs: 3000,
        maxStreams: 64,
        onStream: (s) => void serveStream(s, async () => Response.json({ agent: "real" })),
      });
      await until(async () => (await listing(n2)).tunnels.some((t) => t.id === "bob" && t.node === "n1"), 10_000, "n1 to hold bob");
    }, 60_000);

    afterAll(async () => {
      agent?.close("test over");
      attacker?.stop(true);
      await cluster?.stop();
      await redis?.stop();
    });

    test("forged leases and heartbeats written into Redis are ignored and logged; no call goes to them", async () => {
      const link = await redis.link();
      const { keys } = clusterRedisKeys(cluster);
      // The lease as the nodes wrote it, found the way an intruder would.
      const [, found] = await link.cmd<[string, string[]]>("SCAN", ["0", "MATCH", "*lease:bob", "COUNT", "1000"]);
      expect(found.length).toBe(1);
      const lease = found[0]!;
      const prefix = lease.slice(0, -":lease:bob".length);
      const channel = `${prefix}:owners`;
      const target = `http://127.0.0.1:${attacker.port}`;
      const epoch = Number(await link.cmd("HGET", [lease, "epoch"]));
      /** Calls through n2 (which must forward) for a while: each answered by the real agent or "moving", never elsewhere. */
      const hammer = async (ms: number) => {
        const seen = new Set<string>();
        const t0 = performance.now();
        while (performance.now() - t0 < ms) {
          const r = await callBob(n2);
          seen.add(r.status === 200 ? ((await r.json()) as { agent: string }).agent : `${r.status} ${r.headers.get("x-c2l-error-code")}`);
          await Bun.sleep(50);
        }
        return seen;
      };
      const served = async () => until(async () => (await callBob(n2)).status === 200, 5_000, "bob served through n2 again");

      // 1. The real lease's URL pointed at the attacker (the change published so caches drop it).
      await link.cmd("HSET", [lease, "url", target]);
      await link.cmd("PUBLISH", [channel, `bob n1 ${epoch}`]);
      const first = await hammer(1_500);
      expect([...first].filter((s) => s !== "real" && s !== "503 tunnel_moving")).toEqual([]);
      // n1's renewal puts its own URL back.
      await served();
      expect(await link.cmd("HGET", [lease, "url"])).toBe(n1.internalUrl);

      // 2. A lease of another node, with a higher epoch and a made-up signature, and its "claim" published: n1 does not
      // give up its agent, it takes the tunnel back.
      await link.cmd("HSET", [lease, "node", "evil", "epoch", String(epoch + 1000), "url", target, "sig", "A".repeat(43)]);
      await link.cmd("SET", [`${prefix}:epoch:bob`, String(epoch + 1000)]);
      await link.cmd("PUBLISH", [channel, `bob evil ${epoch + 1000}`]);
      const second = await hammer(1_500);
      expect([...second].filter((s) => s !== "real" && s !== "503 tunnel_moving")).toEqual([]);
      await served();
      expect(await link.cmd("HGET", [lease, "node"])).toBe("n1");

      // 3. A lease that verifies (made with the cluster's key) but names a node that is not a live member.
      await link.cmd("HSET", [lease, "node", "ghost", "epoch", String(epoch + 2000), "url", target, "sig", signRecord(keys.record, "lease", ["bob", "ghost", target])]);
      await link.cmd("SET", [`${prefix}:epoch:bob`, String(epoch + 2000)]);
      await link.cmd("PUBLISH", [channel, `bob ghost ${epoch + 2000}`]);
      const third = await hammer(1_500);
      expect([...third].filter((s) => s !== "real" && s !== "503 tunnel_moving")).toEqual([]);
      await served();

      // 4. A heartbeat for a node at the attacker's URL: not listed, never asked for its tunnels.
      await link.cmd("SET", [`${prefix}:node:evil`, JSON.stringify({ id: "evil", url: target, startedAt: new Date().toISOString(), sig: "A".repeat(43) })]);
      for (const n of [n1, n2]) expect((await listing(n)).nodes.map((x) => x.id).sort()).toEqual(["n1", "n2"]);

      expect(stolen).toEqual([]);
      // The real agent was never sent away.
      expect(await Promise.race([agent.closed, Bun.sleep(10).then(() => null)])).toBeNull();
      const logs = n1.stderr() + n2.stderr();
      expect(logs).toMatch(/ignored a lease not signed with this cluster's secret: not forwarding there.*claimed_url=http:\/\/127\.0\.0\.1/);
      expect(logs).toMatch(/ignored a lease not signed with this cluster's secret; taking the tunnel back/);
      expect(logs).toMatch(/ignored a lease naming a node that is not a live member of this cluster.*claimed_node=ghost/);
      expect(logs).toMatch(/ignored a node heartbeat: not a member of this cluster.*node:evil/);
      expect(await metric(n2, 'cloudtolocalllm_relay_ignored_records_total{kind="lease"}')).toBeGreaterThan(0);
      expect(await metric(n1, 'cloudtolocalllm_relay_ignored_records_total{kind="node"}')).toBeGreaterThan(0);
      if (mode.password) {
        for (const n of [n1, n2]) {
          expect(n.stderr()).not.toContain(PASSWORD);
          expect(JSON.stringify(await readyz(n))).not.toContain(PASSWORD);
          expect((await readyz(n)).cluster.redis).toBe("up");
        }
      }
    }, 40_000);
  });
}

test("redis_url credentials: an ACL user works; a wrong password or none is named clearly, never shown", async () => {
  const redis = await startRedis({ password: PASSWORD });
  const dir = mkdtempSync(join(tmpdir(), "c2l-redis-auth-"));
  const secretFile = writeClusterSecret(dir);
  const nodes: ClusterNode[] = [];
  try {
    const link = await redis.link();
    await link.cmd("ACL", ["SETUSER", "relay", "on", ">acl-pw-for-tests-91c2", "~c2l:*", "&c2l:*", "+@all"]);
    const port = redis.port;
    const start = async (id: string, url: string) => {
      const n = await startClusterNode({ redisUrl: url, id, dir, secretFile });
      nodes.push(n);
      return n;
    };
    const acl = await start("acl", `redis://relay:acl-pw-for-tests-91c2@127.0.0.1:${port}/0`);
    await until(async () => (await readyz(acl)).cluster.redis === "up", 5_000, "the ACL user's node to reach Redis");
    const wrong = await start("wrong", `redis://:not-the-password-5e1d@127.0.0.1:${port}/0`);
    const none = await start("none", `redis://127.0.0.1:${port}/0`);
    const wrongUser = await start("wronguser", `redis://relay:not-the-password-5e1d@127.0.0.1:${port}/0`);
    for (const n of [wrong, wrongUser]) {
      const r = await readyz(n);
      expect(r.cluster.redis).toBe("down");
      expect(r.cluster.reason).toMatch(/Redis refused the user name or password in cluster\.redis_url \(WRONGPASS\)/);
      expect(n.stderr()).toMatch(/redis=.*refused the user name or password/);
    }
    expect((await readyz(none)).cluster.reason).toMatch(/Redis requires a password: give it in cluster\.redis_url/);
    for (const n of nodes) {
      expect(n.stderr()).not.toMatch(/not-the-password|acl-pw-for-tests|redis-pw-for-tests/);
      expect(JSON.stringify(await readyz(n))).not.toMatch(/not-the-password|acl-pw-for-tests/);
    }
  } finally {
    await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    await redis.stop();
    cleanup(dir);
  }
}, 40_000);

withOpenssl.test("rediss://: nodes reach a TLS Redis through redis_ca_file (added to the system's trust); without it TLS fails", async () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-redis-tls-"));
  const sh = (cmd: string[]) => {
    const r = Bun.spawnSync(cmd, { cwd: dir, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
  };
  sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=c2l redis test CA"]);
  sh(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "redis.key", "-out", "redis.csr", "-subj", "/CN=127.0.0.1"]);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
  sh(["openssl", "x509", "-req", "-in", "redis.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "redis.pem", "-days", "2", "-extfile", "ext.cnf"]);
  const caFile = join(dir, "ca.pem");
  const redis = await startRedis({ password: PASSWORD, tls: { certFile: join(dir, "redis.pem"), keyFile: join(dir, "redis.key"), caFile, ca: readFileSync(caFile, "utf8") } });
  expect(redis.url).toStartWith("rediss://");
  let cluster: TestCluster | null = null;
  const nodes: ClusterNode[] = [];
  let agent: Connection | null = null;
  try {
    cluster = await startCluster({ redisUrl: redis.url, size: 2, clusterExtra: `redis_ca_file = "${caFile}"` });
    const [n1, n2] = cluster.nodes as [ClusterNode, ClusterNode];
    agent = await connect({ url: `${n1.url.replace(/^http/, "ws")}/agent`, token: BOB_TOKEN, agent: "tls", heartbeatMs: 1000, toleranceMs: 3000, maxStreams: 8, onStream: (s) => void serveStream(s, async () => Response.json({ agent: "tls" })) });
    // A forward needs the lease in Redis: it works over TLS.
    await until(async () => (await callBob(n2)).status === 200, 10_000, "bob forwarded through n2 over a TLS Redis");
    expect((await readyz(n2)).cluster.redis).toBe("up");
    // Without the CA the node does not trust Redis's certificate and says TLS failed.
    const untrusted = await startClusterNode({ redisUrl: redis.url, id: "untrusted", dir, secretFile: cluster.secretFile });
    nodes.push(untrusted);
    const r = await readyz(untrusted);
    expect(r.cluster.redis).toBe("down");
    expect(r.cluster.reason).toMatch(/TLS to Redis failed/);
    expect(untrusted.stderr()).not.toContain(PASSWORD);
  } finally {
    agent?.close("test over");
    await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    await cluster?.stop();
    await redis.stop();
    cleanup(dir);
  }
}, 60_000);

test("an ACL user allowed only the commands docs/relay-cluster.md lists (those its scripts call too: EXISTS TIME PEXPIRE INCR ZADD ...) runs a cluster: claim, forward, the shared minute, the listing; Redis refuses it nothing", async () => {
  const redis = await startRedis({ password: PASSWORD });
  let cluster: TestCluster | undefined;
  let agent: Connection | undefined;
  try {
    const link = await redis.link();
    // Read from the docs' sentence: those the nodes send, then those their Lua scripts call (Redis checks both).
    const sentence = /the commands `([A-Z ]+)`, and those their Lua scripts call[^`]*`([A-Z ]+)`/.exec(readFileSync(join(import.meta.dir, "../../docs/relay-cluster.md"), "utf8").replace(/\s+/g, " "));
    const commands = `${sentence?.[1]} ${sentence?.[2]}`.toLowerCase().split(" ");
    expect(commands).toContain("zremrangebyscore");
    await link.cmd("ACL", ["SETUSER", "docs", "on", ">docs-acl-pw-for-tests-3b7e", "~c2l:*", "&c2l:*", "-@all", ...commands.map((c) => `+${c}`)]);
    cluster = await startCluster({ redisUrl: `redis://docs:docs-acl-pw-for-tests-3b7e@127.0.0.1:${redis.port}/0`, size: 2, requestsPerMinute: 1000 });
    const [n1, n2] = cluster.nodes as [ClusterNode, ClusterNode];
    agent = await connect({
      url: `${n1.url.replace(/^http/, "ws")}/agent`,
      token: BOB_TOKEN,
      agent: "acl",
      heartbeatMs: 1000,
      toleranceMs: 3000,
      maxStreams: 8,
      onStream: (s) => void serveStream(s, async () => Response.json({ agent: "acl" })),
    });
    // Forwarded from n2 to the owner n1 (the lease read, the minute counted in Redis), several renewals later too.
    await until(async () => (await callBob(n2)).status === 200, 10_000, "bob served through n2");
    await Bun.sleep(1_500);
    const r = await callBob(n2);
    expect([r.status, await r.json()]).toEqual([200, { agent: "acl" }]);
    for (const n of [n1, n2]) expect((await readyz(n)).cluster.redis).toBe("up");
    expect((await listing(n2)).tunnels.map((t) => `${t.id}@${t.node}`)).toEqual([`bob@${n1.id}`]);
    // Nothing Redis refused on the way (NOPERM), on either node.
    for (const n of [n1, n2]) expect(n.stderr()).not.toMatch(/NOPERM|no permissions|lacks a permission/i);
    expect(await metric(n1, "cloudtolocalllm_relay_redis_errors_total") + (await metric(n2, "cloudtolocalllm_relay_redis_errors_total"))).toBe(0);
  } finally {
    agent?.close("test over");
    await cluster?.stop();
    await redis.stop();
  }
}, 40_000);
