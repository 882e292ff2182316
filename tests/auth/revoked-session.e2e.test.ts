// Issue 23, item 4: a refresh token revoked at the issuer raises the "login required" alert at once (default cooldown,
// after the first sign-in) and the tunnel says to sign in again; a plain `logout` raises no alert and the tunnel says
// it is signed out.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { until } from "../helpers/until.ts";
import { startSignedInSetup, type SignedInDaemon } from "./signed-in-daemon.ts";

let s: SignedInDaemon;
beforeAll(async () => {
  // [alerts] cooldown stays at its default (5 min), as in the issue.
  s = await startSignedInSetup({ accessTokenTtlSec: 6, refreshBefore: "60s" });
}, 30_000);
afterAll(async () => {
  await s?.close();
});

test("before the first sign-in the waiting tunnel says signed out and raises nothing", async () => {
  const t = await until(async () => {
    const t = await s.tunnel();
    return t.state === "auth_failed" ? t : null;
  }, 10_000, "the tunnel to wait for a sign-in");
  expect(t.lastError).toContain("signed out: sign in with `cloudtolocalllm-tunnel login`");
  expect(await s.alerts()).toEqual([]);
}, 15_000);

test("a revoked refresh token: login_required, the alert within 30 s, and the tunnel says to sign in again", async () => {
  await s.signIn("alice");
  await until(async () => (await s.tunnel()).state === "connected", 10_000, "the tunnel to connect");
  await s.p.revoke(s.stored()!.refreshToken!);
  const revokedAt = Date.now();
  await until(async () => (await s.auth()).state === "login_required", 15_000, "login_required");
  const alert = await until(async () => (await s.alerts()).find((a) => a.rule === "login_required"), 30_000 - (Date.now() - revokedAt), "the login_required alert");
  expect(alert.severity).toBe("critical");
  expect(alert.message).toContain("invalid_grant");
  const t = await until(async () => {
    const t = await s.tunnel();
    return t.state === "auth_failed" ? t : null;
  }, 10_000, "the tunnel to wait for a sign-in");
  expect(t.lastError).toBe("login required: sign in again (`cloudtolocalllm-tunnel login`)");
  expect(t.lastErrorCode).toBe("login_required");
  expect((await s.cli("status")).out).toContain("sign in again");
}, 45_000);

test("after signing in again, a plain logout raises no alert and the tunnel says it is signed out", async () => {
  await s.signIn("alice");
  await until(async () => (await s.tunnel()).state === "connected", 10_000, "the tunnel to connect");
  await until(async () => !(await s.alerts()).some((a) => a.rule === "login_required"), 5000, "the alert to clear");
  const r = await s.api("/api/v1/auth/logout", { method: "POST" });
  expect(r.status).toBe(200);
  const t = await until(async () => {
    const t = await s.tunnel();
    return t.state === "auth_failed" ? t : null;
  }, 10_000, "the tunnel to stop for the sign-out");
  expect(t.lastError).toContain("signed out: sign in with `cloudtolocalllm-tunnel login`");
  expect(t.lastError).not.toContain("no agent token");
  await Bun.sleep(3000);
  expect(await s.alerts()).toEqual([]);
  const since = (await s.events()).filter((e) => e.type === "alert.raised" && e.data.rule === "login_required");
  expect(since.length).toBe(1); // the revocation's, none for the sign-out
  expect((await s.auth()).state).toBe("signed_out");
}, 45_000);
