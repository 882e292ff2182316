// A laptop that slept past its access token's expiry: the refresh timer has not fired yet (timers count no sleep), yet
// the first token asked for after waking (the tunnel reconnecting) is a fresh one, never the expired one.
import { afterAll, beforeAll, expect, setSystemTime, test } from "bun:test";
import { AUDIENCE, browse, CLIENT_ID, startProvider, type TestProvider } from "./oidc-provider.ts";
import { pkceLogin } from "../../src/auth/pkce-flow.ts";
import { AuthManager } from "../../src/auth/manager.ts";
import { MemorySecretStore } from "../../src/secrets/memory-store.ts";
import { saveSession } from "../../src/auth/session.ts";
import { EventBus } from "../../src/core/events.ts";
import { setLogSink } from "../../src/core/log.ts";

let p: TestProvider;
beforeAll(async () => {
  p = await startProvider({ accessTokenTtlSec: 120 });
});
afterAll(async () => {
  setSystemTime();
  await p?.close();
  setLogSink((l) => process.stderr.write(l + "\n"));
});

test("asleep past the access token's expiry, the refresh timer not yet fired: the token asked for on waking is refreshed, not the expired one", async () => {
  setLogSink(() => {});
  const auth = { issuer: p.issuer, client_id: CLIENT_ID, audience: AUDIENCE, scopes: ["openid", "offline_access", "tunnel"], flow: "device" as const, refresh_before: "60s" };
  const store = new MemorySecretStore();
  await saveSession(store, await pkceLogin(auth, { onUrl: (u) => void browse(u, "dave") }));
  const m = new AuthManager({ config: () => auth, secrets: () => store, events: new EventBus(), retryInitialMs: 200, retryMaxMs: 800, minGrantIntervalMs: 100 });
  await m.start();
  try {
    const before = await m.accessToken();
    expect(before).toBeTruthy();
    const calls = p.tokenCalls();
    // Ten minutes asleep: the wall clock moved past the token's expiry (2 min; the refresh token lives an hour); no
    // timer fired meanwhile.
    setSystemTime(new Date(Date.now() + 600_000));
    const after = await m.accessToken();
    expect(after).toBeTruthy();
    expect(after).not.toBe(before);
    expect(p.tokenCalls()).toBe(calls + 1);
    const exp = JSON.parse(Buffer.from(after!.split(".")[1]!, "base64url").toString()).exp as number;
    expect(exp * 1000).toBeGreaterThan(Date.now());
  } finally {
    setSystemTime();
    await m.stop();
  }
}, 20_000);

test("a system clock set back an hour right after a refresh (NTP, a user) does not hold the next refresh back for that hour: the rate bound is a span", async () => {
  setLogSink(() => {});
  const auth = { issuer: p.issuer, client_id: CLIENT_ID, audience: AUDIENCE, scopes: ["openid", "offline_access", "tunnel"], flow: "device" as const, refresh_before: "60s" };
  const store = new MemorySecretStore();
  await saveSession(store, await pkceLogin(auth, { onUrl: (u) => void browse(u, "erin") }));
  const m = new AuthManager({ config: () => auth, secrets: () => store, events: new EventBus(), retryInitialMs: 200, retryMaxMs: 800, minGrantIntervalMs: 100 });
  await m.start();
  try {
    const calls = p.tokenCalls();
    await m.refreshNow();
    expect(p.tokenCalls()).toBe(calls + 1);
    setSystemTime(new Date(Date.now() - 3_600_000));
    // Past the rate bound (100 ms) in real time, a refresh asked for is sent.
    await Bun.sleep(150);
    await m.refreshNow();
    expect(p.tokenCalls()).toBe(calls + 2);
    expect(m.status().state).toBe("signed_in");
  } finally {
    setSystemTime();
    await m.stop();
  }
}, 20_000);
