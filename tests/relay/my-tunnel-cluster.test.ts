// /me/ and /ollama/ on a relay cluster (two real nodes on Debian's redis-server, real daemons): a signed-in user's call
// to the node that does not hold its tunnel is forwarded to the one that does, as /t/ID/ is; never to another user's.
import { expect } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { until } from "../helpers/until.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { cleanup, daemonToml, startAgentDaemon } from "../tunnel/helpers.ts";
import { startCluster, type ClusterNode, type TestCluster } from "./cluster-helpers.ts";
import { startTestIssuer, type TestIssuer } from "./test-issuer.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server"]);

/** Tunnel id → owner, agent token, the node its daemon connects to, and the one model its upstream serves. */
const TUNNELS = {
  "c-alice": { subject: "sub-alice", agent: "agent-token-c-alice-0123456789", node: 1, model: "alice:1b" },
  "c-bob": { subject: "sub-bob", agent: "agent-token-c-bob-0123456789", node: 0, model: "bob:1b" },
} as const;
type Id = keyof typeof TUNNELS;

let redis: TestRedis;
let issuer: TestIssuer;
let cluster: TestCluster;
const upstreams: FakeOllama[] = [];
const daemons: DaemonProc[] = [];
const tokens: Record<string, string> = {};

beforeAll(async () => {
  redis = await startRedis();
  issuer = await startTestIssuer();
  const bound = Object.entries(TUNNELS)
    .map(([id, t]) => `\n[[tunnels]]\nid = "${id}"\nagent_token_sha256 = "${hashToken(t.agent)}"\nsubject = "${t.subject}"\n`)
    .join("");
  cluster = await startCluster({ redisUrl: redis.url, size: 2, extra: `${bound}\n${issuer.oidcToml}` });
  await Promise.all(
    (Object.keys(TUNNELS) as Id[]).map(async (id) => {
      const t = TUNNELS[id];
      const up = await startFakeOllama({ models: [t.model], tokens: 2 });
      upstreams.push(up);
      const node = cluster.nodes[t.node]!;
      const d = await startAgentDaemon(daemonToml({ upstream: up.url, relayUrl: `${node.url.replace(/^http/, "ws")}/agent` }), { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: t.agent });
      daemons.push(d);
      await until(async () => JSON.stringify(await (await fetch(`${d.urls.broker}/api/tags`)).json()).includes(t.model), 15_000, `${id}'s models`);
    }),
  );
  tokens["sub-alice"] = await issuer.sign("sub-alice");
  tokens["sub-bob"] = await issuer.sign("sub-bob");
}, 60_000);

afterAll(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
  await cluster?.stop();
  await Promise.all(upstreams.map((u) => u.stop()));
  issuer?.stop();
  await redis?.stop();
  cleanup(...daemons.map((d) => d.home));
});

const call = (node: ClusterNode, path: string, token: string, headers: Record<string, string> = {}) =>
  fetch(`${node.url}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });

test("each user's /me/ and /ollama/ call on either node reaches its own tunnel's daemon, across nodes; the other user's tunnel is a 404", async () => {
  for (const id of Object.keys(TUNNELS) as Id[]) {
    const t = TUNNELS[id];
    for (const node of cluster.nodes)
      for (const prefix of ["/me", "/ollama"]) {
        // The other node learns the tunnel's owner from Redis right after the agent connects: wait for the first answer.
        const r = await until(async () => {
          const res = await call(node, `${prefix}/api/tags`, tokens[t.subject]!);
          return res.status === 200 ? res : null;
        }, 10_000, `${id} through ${node.id}`);
        expect(((await r.json()) as { models: { name: string }[] }).models.map((m) => m.name)).toEqual([t.model]);
      }
  }
  for (const node of cluster.nodes) expect((await call(node, "/me/api/tags", tokens["sub-alice"]!, { "x-c2l-tunnel": "c-bob" })).status).toBe(404);
});
