// Issue 23, item 1: a 30 s access token with the docs' refresh_before = "60s" and the tunnel on is refreshed at half its
// life, not in a loop; a new token does not restart the tunnel, which connects and stays connected across the relay's
// GO_AWAY at the token's expiry. Real oidc-provider, real relay with [oidc], real daemon.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { decodeJwt } from "jose";
import { until } from "../helpers/until.ts";
import { subjectTunnelId } from "../../src/relay/auth.ts";
import { startSignedInSetup, type SignedInDaemon } from "./signed-in-daemon.ts";

let s: SignedInDaemon;
beforeAll(async () => {
  s = await startSignedInSetup({ accessTokenTtlSec: 30, refreshBefore: "60s" });
}, 30_000);
afterAll(async () => {
  await s?.close();
});

test("30 s tokens, refresh_before = 60s, tunnel on: at most 3 grants in 35 s, and the tunnel stays connected", async () => {
  await s.signIn("alice");
  const t0 = Date.now();
  const grants0 = s.p.tokenCalls();
  const first = s.stored()!;
  expect(decodeJwt(first.accessToken).exp! - decodeJwt(first.accessToken).iat!).toBe(30);
  await until(async () => (await s.tunnel()).state === "connected", 10_000, "the tunnel to connect");
  const tunnelId = subjectTunnelId(s.p.issuer, "alice");

  // Watch 35 s: past the first token's expiry (30 s), where the relay sends GO_AWAY and the tunnel reconnects.
  const states: string[] = [];
  while (Date.now() - t0 < 35_000) {
    states.push((await s.tunnel()).state);
    await Bun.sleep(250);
  }
  const grants = s.p.tokenCalls() - grants0;
  // Half the life: one refresh at ~15 s and one at ~30 s (the issue saw more than 1,000 in 8 s). A minute would allow 4.
  expect(grants).toBeGreaterThanOrEqual(1);
  expect(grants).toBeLessThanOrEqual(3);
  expect(s.stored()!.accessToken).not.toBe(first.accessToken);

  // Connected at the end on a refreshed token, never stopped or waiting for credentials on the way.
  const t = await s.tunnel();
  expect(t.state).toBe("connected");
  expect(states).not.toContain("stopped");
  expect(states).not.toContain("auth_failed");
  expect(s.relay.tunnels().map((x) => x.id)).toContain(tunnelId);
  // From the first connection on (the sign-in itself restarts the tunnel that waited for it).
  const all = s.d.stderr();
  const log = all.slice(all.indexOf("tunnel: connected to the relay"));
  expect(log).not.toContain("tunnel stopped");
  expect(all).not.toContain("no agent token");
  // The relay did send GO_AWAY at the first token's expiry: the tunnel reconnected on the current token.
  expect((log.match(/tunnel: connected to the relay/g) ?? []).length).toBeGreaterThanOrEqual(2);
  const refreshed = (await s.events()).filter((e) => e.type === "auth.progress" && e.data.step === "refreshed").length;
  expect(refreshed).toBeLessThanOrEqual(3);
}, 70_000);
