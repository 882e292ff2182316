// The daemon's token lifecycle in-process: access-token subscribers, bounded backoff while the issuer is in trouble.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { AUDIENCE, browse, CLIENT_ID, startProvider, type TestProvider } from "./oidc-provider.ts";
import { pkceLogin } from "../../src/auth/pkce-flow.ts";
import { AuthManager } from "../../src/auth/manager.ts";
import { MemorySecretStore } from "../../src/secrets/memory-store.ts";
import { loadSession, saveSession } from "../../src/auth/session.ts";
import { EventBus } from "../../src/core/events.ts";
import { setLogSink } from "../../src/core/log.ts";
import { DiskFullError } from "../../src/config/atomic-write.ts";

let p: TestProvider;
beforeAll(async () => {
  p = await startProvider({ accessTokenTtlSec: 3600 });
});
afterAll(async () => {
  await p?.close();
  setLogSink((l) => process.stderr.write(l + "\n"));
});

test("a failing token endpoint is retried with growing delays, then the next success clears it", async () => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  const auth = { issuer: p.issuer, client_id: CLIENT_ID, audience: AUDIENCE, scopes: ["openid", "offline_access", "tunnel"], flow: "device" as const, refresh_before: "60s" };
  const store = new MemorySecretStore();
  await saveSession(store, await pkceLogin(auth, { onUrl: (u) => void browse(u, "carol") }));
  const events = new EventBus();
  const m = new AuthManager({ config: () => auth, secrets: () => store, events, retryInitialMs: 200, retryMaxMs: 800, minGrantIntervalMs: 100 });
  const tokens: (string | null)[] = [];
  m.onToken((t) => tokens.push(t));
  await m.start();
  try {
    expect(m.status()).toMatchObject({ state: "signed_in", subject: "carol" });
    const first = await m.accessToken();
    expect(first).toBeTruthy();
    expect(tokens).toEqual([first]); // subscribers hear about the loaded session too

    p.failTokenEndpoint(503);
    const before = p.tokenCalls();
    await expect(m.refreshNow()).rejects.toThrow("Refreshing the access token failed: the issuer answered HTTP 503");
    await Bun.sleep(2000);
    const during = p.tokenCalls() - before;
    // Delays 200, 400, 800, 800… ms: about 4 calls in 2 s, never a tight loop; the state stays signed_in meanwhile.
    expect(during).toBeGreaterThanOrEqual(3);
    expect(during).toBeLessThanOrEqual(6);
    expect(m.status().state).toBe("signed_in");
    expect(lines.some((l) => l.includes("will retry") && l.includes("attempt=2"))).toBe(true);

    p.failTokenEndpoint(null);
    const until = Date.now() + 3000;
    while (tokens.length === 1 && Date.now() < until) await Bun.sleep(50);
    expect(tokens.length).toBe(2);
    expect(tokens[1]).not.toBe(first);
    expect(await m.accessToken()).toBe(tokens[1]!);
    expect((await loadSession(store))!.accessToken).toBe(tokens[1]!);
    const settled = p.tokenCalls();
    await Bun.sleep(1000);
    expect(p.tokenCalls()).toBe(settled); // back to the normal schedule (an hour away)

    await m.logout();
    expect(tokens.at(-1)).toBeNull();
    expect(m.status().state).toBe("signed_out");
    expect(await m.accessToken()).toBeNull();
    expect(await loadSession(store)).toBeNull();
    for (const l of lines) for (const t of [first!, tokens[1]!]) expect(l).not.toContain(t);
  } finally {
    p.failTokenEndpoint(null);
    await m.stop();
  }
}, 20_000);

const AUTH = { issuer: "", client_id: CLIENT_ID, audience: AUDIENCE, scopes: ["openid", "offline_access", "tunnel"], flow: "device" as const, refresh_before: "60s" };

test("refreshes are rate-bounded whatever asks: ten refreshNow() and accessToken() calls in a row send one grant", async () => {
  const auth = { ...AUTH, issuer: p.issuer };
  const store = new MemorySecretStore();
  await saveSession(store, await pkceLogin(auth, { onUrl: (u) => void browse(u, "erin") }));
  const m = new AuthManager({ config: () => auth, secrets: () => store, events: new EventBus() });
  await m.start();
  try {
    const before = p.tokenCalls();
    for (let i = 0; i < 10; i++) {
      await m.refreshNow();
      await m.accessToken();
    }
    expect(p.tokenCalls() - before).toBe(1);
    expect(m.status().state).toBe("signed_in");
  } finally {
    await m.stop();
  }
}, 20_000);

test("right after a start, a refused refresh token is followed by one try with the previous one, which keeps the session", async () => {
  const auth = { ...AUTH, issuer: p.issuer };
  const store = new MemorySecretStore();
  const good = await pkceLogin(auth, { onUrl: (u) => void browse(u, "dave") });
  // The store holds a rotated token the issuer never committed (a crash between the two), and the one it replaced.
  await saveSession(store, { ...good, refreshToken: "lost-rotated-token", previousRefreshToken: good.refreshToken });
  const m = new AuthManager({ config: () => auth, secrets: () => store, events: new EventBus() });
  await m.start();
  try {
    const before = p.tokenCalls();
    await m.refreshNow();
    expect(p.tokenCalls() - before).toBe(2);
    expect(m.status()).toMatchObject({ state: "signed_in", subject: "dave", reason: null });
    const kept = (await loadSession(store))!;
    expect(kept.refreshToken).not.toBe("lost-rotated-token");
    expect(kept.refreshToken).not.toBe(good.refreshToken);
    expect(kept.previousRefreshToken).toBe(good.refreshToken);
  } finally {
    await m.stop();
  }
}, 20_000);

test("without [auth] issuer the service is disabled and has no token", async () => {
  const m = new AuthManager({
    config: () => ({ issuer: "", client_id: "", audience: "", scopes: [], flow: "device", refresh_before: "60s" }),
    secrets: () => new MemorySecretStore(),
    events: new EventBus(),
  });
  await m.start();
  expect(m.status().state).toBe("disabled");
  expect(await m.accessToken()).toBeNull();
  await m.stop();
});

test("a sign-out while a device sign-in is starting drops it: no code left pending, no polling after the sign-out", async () => {
  const auth = { issuer: p.issuer, client_id: CLIENT_ID, audience: AUDIENCE, scopes: ["openid", "offline_access", "tunnel"], flow: "device" as const, refresh_before: "60s" };
  const m = new AuthManager({ config: () => auth, secrets: () => new MemorySecretStore(), events: new EventBus() });
  await m.start();
  try {
    const starting = m.startDeviceLogin();
    await m.logout();
    await expect(starting).rejects.toThrow("signed out while it was starting");
    expect(m.status()).toMatchObject({ state: "signed_out", pending: null });
    // A new sign-in afterwards starts afresh.
    const again = await m.startDeviceLogin();
    expect(again.userCode).toMatch(/\w/);
    expect(m.status().pending?.userCode).toBe(again.userCode);
  } finally {
    await m.stop();
  }
});

test("a refreshed session the store refused, replaced by a sign-in elsewhere (reload), has its refresh token revoked, not just forgotten", async () => {
  const auth = { ...AUTH, issuer: p.issuer };
  const store = new MemorySecretStore();
  await saveSession(store, await pkceLogin(auth, { onUrl: (u) => void browse(u, "frank") }));
  // The store refuses writes from here on (a keyring locked under the daemon).
  const refusing = Object.assign(Object.create(store), {
    set: async () => {
      throw new Error("The desktop keyring is locked");
    },
  }) as MemorySecretStore;
  let locked = true;
  const m = new AuthManager({ config: () => auth, secrets: () => (locked ? refusing : store), events: new EventBus(), minGrantIntervalMs: 0 });
  await m.start();
  try {
    const stored = (await loadSession(store))!.refreshToken;
    await m.refreshNow();
    // Rotated: the new refresh token is in memory only, the store still holds the spent one.
    const unstored = (m as unknown as { session: { refreshToken: string } }).session.refreshToken;
    expect(unstored).not.toBe(stored);
    expect((await loadSession(store))!.refreshToken).toBe(stored);
    // `login` in another process stores a new sign-in; its call tells the daemon to reload.
    locked = false;
    await saveSession(store, await pkceLogin(auth, { onUrl: (u) => void browse(u, "frank") }));
    const before = p.revocations().length;
    await m.reload();
    expect(m.status()).toMatchObject({ state: "signed_in", subject: "frank" });
    // Before: dropped from memory and still honoured by the issuer.
    expect(p.revocations().slice(before).map((r) => r.token)).toEqual([unstored]);
    expect(await p.provider.RefreshToken.find(unstored)).toBeFalsy();
  } finally {
    await m.stop();
  }
}, 20_000);

test("refreshed tokens the store refuses for a full disk: one error line for the cause, not one per retry; stored once there is room", async () => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  const auth = { ...AUTH, issuer: p.issuer };
  const store = new MemorySecretStore();
  await saveSession(store, await pkceLogin(auth, { onUrl: (u) => void browse(u, "grace") }));
  let full = true;
  // The file backend on a full disk: its write throws what atomicWrite throws there, and the file keeps the old session.
  const filling = Object.assign(Object.create(store), {
    set: async (name: string, value: string) => {
      if (full) throw new DiskFullError("/home/grace/.local/state/cloudtolocalllm/secrets.json", "ENOSPC");
      return store.set(name, value);
    },
  }) as MemorySecretStore;
  const m = new AuthManager({ config: () => auth, secrets: () => filling, events: new EventBus(), minGrantIntervalMs: 0, storeRetryMs: 50 });
  await m.start();
  try {
    const stored = (await loadSession(store))!.refreshToken;
    await m.refreshNow();
    const unstored = (m as unknown as { session: { refreshToken: string } }).session.refreshToken;
    expect((await loadSession(store))!.refreshToken).toBe(stored);
    // Twenty retries or so, each refused for the same cause.
    await Bun.sleep(1000);
    const refused = lines.filter((l) => l.includes("could not store the"));
    // Before: the refresh's line, then "could not store the sign-in tokens (retrying)" for each retry (every 15 s, for
    // as long as the disk stays full).
    expect(refused).toHaveLength(1);
    expect(refused[0]).toContain("no space left on the disk (ENOSPC)");
    expect(m.status().unstored).toContain("for this run only: the tokens could not be stored (cannot write /home/grace/.local/state/cloudtolocalllm/secrets.json: no space left on the disk");
    full = false;
    const until = Date.now() + 5000;
    while ((await loadSession(store))!.refreshToken !== unstored && Date.now() < until) await Bun.sleep(20);
    expect((await loadSession(store))!.refreshToken).toBe(unstored);
    expect(lines.filter((l) => l.includes("stored the sign-in tokens the secret store refused earlier"))).toHaveLength(1);
  } finally {
    await m.stop();
  }
}, 20_000);
