// The tunnel follows the account: signing out disconnects a tunnel that runs on the access token and it waits in
// auth_failed ("login required") until a token arrives again; a stored agent token is unaffected by a sign-out.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { EventBus } from "../../src/core/events.ts";
import type { TunnelStatus } from "../../src/core/contracts.ts";
import type { Component, DaemonContext } from "../../src/core/component.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { parseRelayConfig } from "../../src/relay/config.ts";
import { startRelay, type RelayServer } from "../../src/relay/server.ts";
import { createTunnelComponent } from "../../src/tunnel/component.ts";

const ACCOUNT_TOKEN = "account-access-token-0123456789";
const STORED_TOKEN = "stored-agent-token-0123456789";
let relay: RelayServer;

beforeAll(async () => {
  const r = parseRelayConfig(`listen = "127.0.0.1:0"
[[tunnels]]
id = "acct"
agent_token_sha256 = "${hashToken(ACCOUNT_TOKEN)}"
[[tunnels]]
id = "stored"
agent_token_sha256 = "${hashToken(STORED_TOKEN)}"
`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  relay = await startRelay(r.config);
});
afterAll(() => relay.stop());

/** An AuthService stand-in: the access token the tunnel reads, and the onToken notifications it subscribes to. */
class FakeAuth {
  token: string | null = ACCOUNT_TOKEN;
  private cbs = new Set<(t: string | null) => void>();
  accessToken = async () => this.token;
  onToken(cb: (t: string | null) => void) {
    this.cbs.add(cb);
    return () => this.cbs.delete(cb);
  }
  set(t: string | null) {
    this.token = t;
    for (const cb of this.cbs) cb(t);
  }
}

function tunnel(tokenSecret: string, secrets?: Record<string, string>) {
  const r = parseConfig(`[tunnel]
enabled = true
relay_url = "${relay.url.replace(/^http/, "ws")}/agent"
token_secret = "${tokenSecret}"
[tunnel.backoff]
initial = "100ms"
max = "200ms"
[auth]
issuer = "https://id.test.invalid"
client_id = "c2l"
`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const auth = new FakeAuth();
  const events = new EventBus();
  const store = secrets && { get: async (n: string) => secrets[n] ?? null };
  const ctx = { config: { current: () => r.config }, events, services: { auth, ...(store ? { secrets: store } : {}) }, startedAt: new Date(), shutdown() {} } as unknown as DaemonContext;
  const states: TunnelStatus[] = [];
  events.on("tunnel.state", (e) => void states.push(e.data));
  const until = async (state: string, ms = 5000) => {
    const t0 = Date.now();
    while (!states.some((s) => s.state === state)) {
      if (Date.now() - t0 > ms) throw new Error(`no ${state} within ${ms} ms; saw ${states.map((s) => s.state).join(", ")}`);
      await Bun.sleep(20);
    }
    return states.find((s) => s.state === state)!;
  };
  return { component: createTunnelComponent(ctx) as Component, auth, states, until };
}

test("sign-out disconnects a tunnel on the account's token; it waits (login required) and reconnects on sign-in", async () => {
  const t = tunnel("");
  await t.component.start();
  await t.component.started?.();
  try {
    await t.until("connected");
    expect(relay.tunnels().map((x) => x.id)).toEqual(["acct"]);
    t.states.length = 0;
    t.auth.set(null); // logout
    const waiting = await t.until("auth_failed");
    expect(waiting.lastError).toMatch(/no agent token: sign in with `cloudtolocalllm-tunnel login`/);
    for (let i = 0; i < 50 && relay.tunnels().length; i++) await Bun.sleep(20);
    expect(relay.tunnels()).toEqual([]);
    // No retries while signed out.
    await Bun.sleep(400);
    expect(t.states.at(-1)!.state).toBe("auth_failed");
    expect(t.states.filter((s) => s.state === "connecting" || s.state === "reconnecting").length).toBeLessThanOrEqual(1);
    t.states.length = 0;
    t.auth.set(ACCOUNT_TOKEN); // login
    await t.until("connected");
    expect(relay.tunnels().map((x) => x.id)).toEqual(["acct"]);
  } finally {
    await t.component.stop();
  }
}, 15_000);

test("a tunnel on a stored agent token stays connected through a sign-out", async () => {
  const t = tunnel("tunnel-token", { "tunnel-token": STORED_TOKEN });
  await t.component.start();
  await t.component.started?.();
  try {
    await t.until("connected");
    t.states.length = 0;
    t.auth.set(null);
    await Bun.sleep(300);
    expect(t.states).toEqual([]);
    expect(relay.tunnels().map((x) => x.id)).toEqual(["stored"]);
  } finally {
    await t.component.stop();
  }
}, 10_000);
