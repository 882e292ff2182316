// A signed-in laptop's sleep, through real processes: the daemon (its tunnel on the account's access token) frozen
// with SIGSTOP past the token's lifetime, while the relay sent it away at the token's expiry. Woken, it refreshes once
// (the missed refresh timer and the reconnect's own ask share the grant), reconnects once with the fresh token, and
// says nothing stale: signed in, no token_expired nor login_required alert, the tunnel connected.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { until } from "../helpers/until.ts";
import { startSignedInSetup, type SignedInDaemon } from "./signed-in-daemon.ts";

let s: SignedInDaemon;
beforeAll(async () => {
  // An 8 s token, refreshed 2 s before it expires.
  s = await startSignedInSetup({ accessTokenTtlSec: 8, refreshBefore: "2s" });
  await s.signIn("alice");
}, 40_000);
afterAll(async () => {
  s?.d.proc.kill("SIGCONT");
  await s?.close();
});

const connectedLines = () => s.d.stderr().split("\n").filter((l) => /tunnel: connected to the relay/.test(l)).length;

test("asleep past the access token's lifetime: woken, one refresh and one reconnect with the fresh token; signed in, no alert, the tunnel connected", async () => {
  await until(async () => (await s.tunnel()).state === "connected", 15_000, "the tunnel to connect");
  const before = s.stored()!.accessToken;
  const connected = connectedLines();
  const grants = s.p.tokenCalls();
  s.d.proc.kill("SIGSTOP");
  // Past the 8 s lifetime: the relay sends the frozen agent away at its token's expiry.
  await Bun.sleep(10_000);
  s.d.proc.kill("SIGCONT");
  await until(async () => connectedLines() > connected && (await s.tunnel()).state === "connected" || null, 15_000, "the woken agent to reconnect");
  const after = s.stored()!.accessToken;
  expect(after).not.toBe(before);
  // One grant for the refresh timer that was due and the reconnect that needed a token (and at most the next one, on a
  // loaded machine), not a grant per waiting caller.
  expect(s.p.tokenCalls() - grants).toBeGreaterThanOrEqual(1);
  expect(s.p.tokenCalls() - grants).toBeLessThanOrEqual(2);
  expect(connectedLines()).toBe(connected + 1);
  const auth = await s.auth();
  expect(auth.state).toBe("signed_in");
  expect(auth.reason ?? null).toBeNull();
  // (The setup has no upstream running: its upstream_down alert, on a slow machine, is not this test's.)
  const SLEEP_ALERTS = /^(token_expired|login_required|tunnel_down)$/;
  expect((await s.alerts()).map((a) => a.id).filter((id) => SLEEP_ALERTS.test(id))).toEqual([]);
  expect(s.d.stderr()).not.toMatch(/alert raised id=(token_expired|login_required|tunnel_down)|sign-in required|uncaught|unhandled/i);
}, 60_000);
