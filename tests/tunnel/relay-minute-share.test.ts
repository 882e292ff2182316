// The minute's per-client share (requests_per_minute_per_client) through a real relay and daemon: clients sharing one
// relay key are told apart by their gateway keys once the agent has accepted them (docs/relay.md), as the streams'
// share tells them apart; a made-up gateway key opens no share of its own.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createKey } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, relayToml } from "./helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";

/** Each client's share of the minute; the tunnel's minute is far above what the test sends. */
const SHARE = 4;
let rig: TunnelRig;

beforeAll(async () => {
  rig = await startTunnelRig({ relayToml: relayToml().replace("requests_per_minute = 100000", `requests_per_minute = 100\nrequests_per_minute_per_client = ${SHARE}`) });
}, 40_000);
afterAll(() => rig?.stop());

/** A gateway key made with the CLI, once the daemon sees it. */
async function gatewayKey(name: string): Promise<string> {
  const k = createKey(rig.daemon, name);
  await until(async () => (await fetch(`${rig.daemon.urls.broker}/api/version`, { headers: { "x-api-key": k } })).status === 200, 5000, `the daemon to see the key ${name}`);
  return k;
}

/** A call through the tunnel with the relay's one client key and `key` as the gateway key: its status, and for a 429 whose limit it met. */
async function call(key: string): Promise<string> {
  const r = await fetch(`${rig.relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { authorization: `Bearer ${CLIENT_KEY}`, "x-api-key": key } });
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
