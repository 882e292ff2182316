// Issue 23, item 3: with the issuer down, /api/v1/auth and `status` show the last refresh error, the attempt and the
// next retry; the token expiring meanwhile raises an alert, cleared when the issuer is back and a refresh succeeds.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { until } from "../helpers/until.ts";
import { startSignedInSetup, type SignedInDaemon } from "./signed-in-daemon.ts";

let s: SignedInDaemon;
beforeAll(async () => {
  s = await startSignedInSetup({ accessTokenTtlSec: 8, refreshBefore: "60s" });
}, 30_000);
afterAll(async () => {
  await s?.p.up().catch(() => {});
  await s?.close();
});

test("the issuer down and back: state, reason and retry visible in /api/v1/auth and status; token_expired raised and cleared", async () => {
  await s.signIn("alice");
  await until(async () => (await s.tunnel()).state === "connected", 10_000, "the tunnel to connect");
  await s.p.down();

  // The refresh at half the life (4 s) fails: still signed in, but saying why, how often and when next.
  const failing = await until(
    async () => {
      const a = await s.auth();
      return a.refresh ? a : null;
    },
    15_000,
    "a failed refresh in /api/v1/auth",
  );
  expect(failing.state).toBe("signed_in");
  expect(failing.reason).toContain("refreshing the access token failed (attempt ");
  expect(failing.refresh!.attempt).toBeGreaterThanOrEqual(1);
  expect(failing.refresh!.lastError.length).toBeGreaterThan(0);
  expect(Date.parse(failing.refresh!.nextRetryAt!)).toBeGreaterThan(Date.now() - 1000);

  const human = await s.cli("status");
  expect(human.code).toBe(0);
  expect(human.out).toMatch(/sign-in signed_in as alice · (access token expired, )?refresh failing \(attempt \d+: .+\), next retry (in \d+ s|now)/);
  const json = await s.cli("status", "--json");
  const st = JSON.parse(json.out) as { auth: { state: string; reason: string; refresh: { attempt: number; lastError: string; nextRetryAt: string } } };
  expect(st.auth.state).toBe("signed_in");
  expect(st.auth.refresh.attempt).toBeGreaterThanOrEqual(1);
  expect(st.auth.reason).toContain("failed");

  // The 8 s token runs out while the issuer is down: said in the state, and the alert is raised.
  const expired = await until(
    async () => {
      const a = await s.auth();
      return a.refresh?.tokenExpired ? a : null;
    },
    15_000,
    "the token to expire",
  );
  expect(expired.reason).toContain("the access token expired and could not be refreshed");
  const alert = await until(async () => (await s.alerts()).find((a) => a.rule === "token_expired"), 5000, "the token_expired alert");
  expect(alert.severity).toBe("critical");
  expect(alert.message).toContain("expired before it could be refreshed");
  expect((await s.cli("status")).out).toContain("access token expired, refresh failing");

  // The issuer comes back: the next retry succeeds, the trouble and the alert are gone, the tunnel reconnects.
  await s.p.up();
  const back = await until(
    async () => {
      const a = await s.auth();
      return a.state === "signed_in" && !a.refresh ? a : null;
    },
    30_000,
    "a successful refresh",
  );
  expect(back.reason).toBeNull();
  await until(async () => !(await s.alerts()).some((a) => a.rule === "token_expired"), 5000, "the alert to clear");
  const cleared = (await s.events()).find((e) => e.type === "alert.cleared" && e.data.rule === "token_expired");
  expect(cleared?.data.message).toBe("The access token was refreshed");
  await until(async () => (await s.tunnel()).state === "connected", 15_000, "the tunnel to reconnect");
  expect((await s.cli("status")).out).not.toContain("refresh failing");
}, 90_000);
