// `logout` from the CLI while the daemon's refresh is on its way back: the daemon does not write the refreshed session
// back over the sign-out (which would sign it in again at its next reload or restart); it notices and is signed out.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { until } from "../helpers/until.ts";
import { BUN, REPO } from "../helpers/daemon.ts";
import { startSignedInSetup, type SignedInDaemon } from "./signed-in-daemon.ts";

let s: SignedInDaemon;
beforeAll(async () => {
  // 6 s tokens: the daemon refreshes at half their life, 3 s after the sign-in.
  s = await startSignedInSetup({ accessTokenTtlSec: 6, refreshBefore: "60s" });
}, 30_000);
afterAll(async () => {
  await s?.close();
});

test("a sign-out stored while the daemon's refresh is in flight stays signed out", async () => {
  await s.signIn("alice");
  expect(s.stored()).not.toBeNull();
  const old = s.stored()!.refreshToken!;
  const revokedBefore = s.p.revocations().length;
  // The issuer has answered the refresh (the old refresh token is consumed); the answer is held before the daemon gets it.
  const held = await s.p.hold("response");
  // The CLI signs out; its reload call cannot reach the daemon (as in the moment between the store's change and that call).
  const proc = Bun.spawn([BUN, join(REPO, "src/main.ts"), "logout", "--url", "http://127.0.0.1:9"], { env: s.d.env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [code, out] = await Promise.all([proc.exited, new Response(proc.stdout).text()]);
  expect({ code, out }).toEqual({ code: 0, out: "Signed out Test alice.\n" });
  expect(s.stored()).toBeNull();
  held.release();
  await until(async () => (await s.auth()).state === "signed_out", 10_000, "the daemon to see the sign-out");
  expect(s.stored()).toBeNull();
  await Bun.sleep(1000);
  expect(s.stored()).toBeNull();
  // The CLI revoked the stored refresh token; the daemon revoked the rotated one it got and dropped (nothing holds it).
  const revoked = s.p.revocations().slice(revokedBefore).map((r) => r.token);
  expect(revoked).toContain(old);
  expect(revoked.filter((t) => t !== old)).toHaveLength(1);
}, 40_000);
