// Two device sign-ins started at once (the tray's "Sign in…" clicked twice, `POST /api/v1/auth/login` from two places):
// both get the one pending code, and approving it signs the daemon in.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { browse } from "./oidc-provider.ts";
import { until } from "../helpers/until.ts";
import { startSignedInSetup, type SignedInDaemon } from "./signed-in-daemon.ts";

let s: SignedInDaemon;
beforeAll(async () => {
  s = await startSignedInSetup({ accessTokenTtlSec: 600, refreshBefore: "60s" });
}, 30_000);
afterAll(async () => {
  await s?.close();
});

test("two sign-ins started at once share one device code; approving the code the first caller got signs in", async () => {
  const [a, b] = await Promise.all([1, 2].map(async () => {
    const r = await s.api("/api/v1/auth/login", { method: "POST" });
    expect(r.status).toBe(202);
    return (await r.json()) as { userCode: string; verificationUriComplete: string };
  }));
  expect(b!.userCode).toBe(a!.userCode);
  expect((await s.auth()).pending?.userCode).toBe(a!.userCode);
  await browse(a!.verificationUriComplete, "alice");
  await until(async () => (await s.auth()).state === "signed_in", 20_000, "signed_in with the first caller's code");
}, 40_000);
