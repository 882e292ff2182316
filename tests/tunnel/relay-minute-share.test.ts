// The minute's per-client share (requests_per_minute_per_client) through a real relay and daemon: clients sharing one
// relay key are told apart by their gateway keys once the agent has accepted them (docs/relay.md), as the streams'
// share tells them apart; a made-up gateway key opens no share of its own.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createKey, type DaemonProc } from "../helpers/daemon.ts";
import { startRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { startCluster } from "../relay/cluster-helpers.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { ADMIN_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon } from "./helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";

/** A second client key of the tunnel: a share of the minute the first test leaves untouched. */
const OTHER_KEY = "client-key-two-for-tests-0123456789";
/** Each client's share of the minute; the tunnel's minute is far above what the test sends. */
const SHARE = 4;
let rig: TunnelRig;

beforeAll(async () => {
  const toml = relayToml()
    .replace("requests_per_minute = 100000", `requests_per_minute = 100\nrequests_per_minute_per_client = ${SHARE}`)
    .replace(`client_key_sha256 = ["${hashToken(CLIENT_KEY)}"]`, `client_key_sha256 = ["${hashToken(CLIENT_KEY)}", "${hashToken(OTHER_KEY)}"]`);
  rig = await startTunnelRig({ relayToml: toml });
}, 40_000);
afterAll(() => rig?.stop());

/** A gateway key made with the CLI, once the daemon sees it. */
async function gatewayKey(name: string, daemon: DaemonProc = rig.daemon): Promise<string> {
  const k = createKey(daemon, name);
  await until(async () => (await fetch(`${daemon.urls.broker}/api/version`, { headers: { "x-api-key": k } })).status === 200, 5000, `the daemon to see the key ${name}`);
  return k;
}

/** A call through the tunnel with relay key `relayKey` and `key` as the gateway key: its status, and for a 429 whose limit it met. */
async function call(key: string, url = rig.relay.url, relayKey = CLIENT_KEY): Promise<string> {
  const r = await fetch(`${url}/t/${TUNNEL_ID}/api/tags`, { headers: { authorization: `Bearer ${relayKey}`, "x-api-key": key } });
  const text = await r.text();
  return r.status === 429 ? `429 ${/requests_per_minute_per_client/.test(text) ? "client share" : "tunnel"}` : String(r.status);
}

test("two clients behind one relay key, each with its own gateway key: one over its share of the minute does not stop the other; made-up keys share the relay key's", async () => {
  const a = await gatewayKey("minute-a");
  const b = await gatewayKey("minute-b");
  // Each key's first call counts under the relay key (the agent has not accepted the key yet): 2 of its 4.
  expect([await call(a), await call(b)]).toEqual(["200", "200"]);
  // Accepted since: a's calls count under a's own share, all 4 of them, then a is over it.
  const aCalls: string[] = [];
  for (let i = 0; i < SHARE + 1; i++) aCalls.push(await call(a));
  expect(aCalls).toEqual([...Array(SHARE).fill("200"), "429 client share"]);
  // b is served: its own share is untouched (before, every call counted under the one relay key, and b met a 429 here).
  expect(await call(b)).toBe("200");
  // A made-up key each call: refused by the agent (401), counted under the relay key's share, which then runs out.
  const madeUp: string[] = [];
  for (let i = 0; i < SHARE; i++) madeUp.push(await call(`c2l_made-up-key-${i}-${crypto.randomUUID()}`));
  expect(madeUp).toEqual(["401", "401", "429 client share", "429 client share"]);
}, 30_000);

test("an x-api-key that is not one whole gateway key (a real key with more after it, c2l_ inside a word) names no client: its calls count under the relay key, however often each is sent", async () => {
  const real = await gatewayKey("minute-c");
  // The broker serves each of these: it reads the real key in the first kind, and finds no key in the second (a call
  // through the tunnel needs none under require_key = "auto"). Before, each spelling was a client of its own once served.
  const spellings = [0, 1, 2, 3].flatMap((i) => [`${real}.${i}`, `x${real}${i}`]);
  const got: string[] = [];
  for (const s of spellings) for (let n = 0; n < 2; n++) got.push(await call(s, rig.relay.url, OTHER_KEY));
  // The relay key's share, 4 calls, then its 429: not 4 more per spelling.
  expect(got).toEqual([...Array(SHARE).fill("200"), ...Array(spellings.length * 2 - SHARE).fill("429 client share")]);
}, 30_000);

requireTools(["redis-server"]).test("across a cluster's hop (the minute's windows in Redis): the same, at the node without the agent", async () => {
  const redis = await startRedis();
  const cluster = await startCluster({ redisUrl: redis.url, size: 2, requestsPerMinute: 100, clientRequestsPerMinute: SHARE });
  const [owner, entry] = [cluster.nodes[0]!, cluster.nodes[1]!];
  const agent = await startAgentDaemon(daemonToml({ upstream: rig.fake.url, relayUrl: `${owner.url.replace(/^http/, "ws")}/agent` }));
  try {
    const a = await gatewayKey("hop-a", agent);
    const b = await gatewayKey("hop-b", agent);
    // The entry node sees the owner's lease (asked through its listing: a call would spend the relay key's minute).
    await until(async () => {
      const r = await fetch(`${entry.url}/api/tunnels`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      return ((await r.json()) as { tunnels: { id: string; node: string }[] }).tunnels.some((t) => t.id === TUNNEL_ID && t.node === owner.id);
    }, 10_000, "the entry node to see the tunnel's owner");
    // Each key's first call counts under the relay key, as at a relay alone.
    expect([await call(a, entry.url), await call(b, entry.url)]).toEqual(["200", "200"]);
    const aCalls: string[] = [];
    for (let i = 0; i < SHARE + 1; i++) aCalls.push(await call(a, entry.url));
    expect(aCalls).toEqual([...Array(SHARE).fill("200"), "429 client share"]);
    expect(await call(b, entry.url)).toBe("200");
  } finally {
    await agent.stop();
    await cluster.stop();
    await redis.stop();
    cleanup(agent.home);
  }
}, 40_000);
