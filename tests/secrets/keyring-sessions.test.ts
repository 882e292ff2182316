// Secret Service sessions under load and trouble: many first reads at once (a daemon starting), a keyring daemon that restarts.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { startKeyring, type Keyring } from "./keyring.ts";
import { openSecretStore } from "../../src/secrets/open-secret-store.ts";
import { apiToken, removeHome, startDaemon } from "../helpers/daemon.ts";
import { AGENT_TOKEN, relayToml, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { until } from "../helpers/until.ts";

const { afterAll, beforeAll, test } = requireTools(["dbus-daemon", "gnome-keyring-daemon", "gdbus"]);

let kr: Keyring;
beforeAll(async () => {
  kr = await startKeyring();
}, 30_000);
afterAll(async () => {
  await kr?.stop();
});

test("a fresh store read by several callers at once (the daemon's components starting) returns every value: one session, one key", async () => {
  const setup = await openSecretStore({ secrets: { backend: "auto" } }, { env: kr.env });
  const names = ["tunnel-token", "openai-key", "groq-key", "vllm-key", "auth-session"];
  try {
    for (const n of names) await setup.set(n, `${n}-value-abcdefghijklmnopqrstuvwxyz`);
  } finally {
    await setup.close();
  }
  for (let round = 0; round < 3; round++) {
    const store = await openSecretStore({ secrets: { backend: "auto" } }, { env: kr.env });
    try {
      const got = await Promise.allSettled(names.map((n) => store.get(n)));
      expect(got.map((r) => (r.status === "fulfilled" ? r.value : `error: ${(r.reason as Error).message}`))).toEqual(names.map((n) => `${n}-value-abcdefghijklmnopqrstuvwxyz`));
      expect((store as unknown as { inner: { algorithm: string } }).inner.algorithm).toBe("dh");
    } finally {
      await store.close();
    }
  }
}, 60_000);

test("a daemon whose four upstreams' API keys are in the keyring sends each its own key from the start", async () => {
  const names = ["key-a", "key-b", "key-c", "key-d"];
  const setup = await openSecretStore({ secrets: { backend: "auto" } }, { env: kr.env });
  try {
    for (const n of names) await setup.set(n, `sk-${n}-0123456789abcdef`);
  } finally {
    await setup.close();
  }
  // An OpenAI-style upstream per key, recording the credential each health check brings.
  const seen = new Map<string, string>();
  const upstream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const name = new URL(req.url).pathname.split("/")[1]!;
      if (!seen.has(name)) seen.set(name, req.headers.get("authorization") ?? "none");
      return Response.json({ object: "list", data: [{ id: "m", object: "model" }] });
    },
  });
  const ups = names.map((n) => `[[upstreams]]\nname = "${n}"\nurl = "http://127.0.0.1:${upstream.port}/${n}"\nkind = "openai"\nauth_secret = "${n}"\n`).join("");
  const d = await startDaemon({ env: { DBUS_SESSION_BUS_ADDRESS: kr.address }, config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n${ups}`, waitFor: ["api"] });
  try {
    await until(() => seen.size === names.length, 15_000, "a health check of every upstream");
    expect(Object.fromEntries(seen)).toEqual(Object.fromEntries(names.map((n) => [n, `Bearer sk-${n}-0123456789abcdef`])));
    expect(d.stderr()).not.toContain("not found");
  } finally {
    await d.stop();
    removeHome(d.home);
    upstream.stop(true);
  }
}, 60_000);

test("a restarted gnome-keyring-daemon is asked for a new session: get and set work without restarting the daemon", async () => {
  const store = await openSecretStore({ secrets: { backend: "auto" } }, { env: kr.env });
  try {
    expect(store.backend).toBe("secret-service");
    await store.set("agent-token", "restart-value-1");
    expect(await store.get("agent-token")).toBe("restart-value-1");
    // No call while it is down: the next one reaches the new service with the old session's path (NoSession).
    await kr.restartService();
    expect(await store.get("agent-token")).toBe("restart-value-1");
    await kr.restartService();
    await store.set("agent-token", "restart-value-2");
    expect(await store.get("agent-token")).toBe("restart-value-2");
  } finally {
    await store.close();
  }
}, 60_000);

// Last here: it leaves the keyring locked.
test("a keyring locked while the daemon runs (KeePassXC locks with the screen) takes neither an upstream's API key nor the tunnel's token away", async () => {
  const setup = await openSecretStore({ secrets: { backend: "auto" } }, { env: kr.env });
  try {
    await setup.set("lock-key", "sk-lock-key-0123456789abcdef");
    await setup.set("tunnel-token", AGENT_TOKEN);
  } finally {
    await setup.close();
  }
  const headers: string[] = [];
  const upstream = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      headers.push(req.headers.get("authorization") ?? "none");
      return Response.json({ object: "list", data: [{ id: "m", object: "model" }] });
    },
  });
  let relay: RelayProc | null = null;
  let d: Awaited<ReturnType<typeof startDaemon>> | null = null;
  try {
    relay = await startRelayProc(relayToml());
    const config = `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[health]\ninterval = "150ms"\n[[upstreams]]\nname = "cloud"\nurl = "http://127.0.0.1:${upstream.port}"\nkind = "openai"\nauth_secret = "lock-key"\n[tunnel]\nenabled = true\nrelay_url = "${relay.url.replace(/^http/, "ws")}/agent"\n[tunnel.backoff]\ninitial = "100ms"\nmax = "400ms"\n`;
    d = await startDaemon({ env: { DBUS_SESSION_BUS_ADDRESS: kr.address }, config, waitFor: ["api"] });
    await d.waitFor(/tunnel: connected to the relay/, 15_000);
    await until(() => headers.length > 0, 15_000, "the first health check");
    const lock = Bun.spawnSync(
      ["gdbus", "call", "--session", "-d", "org.freedesktop.secrets", "-o", "/org/freedesktop/secrets", "-m", "org.freedesktop.Secret.Service.Lock", "['/org/freedesktop/secrets/collection/login']"],
      { env: kr.env },
    );
    expect(lock.exitCode).toBe(0);
    const locked = headers.length;
    await until(() => headers.length >= locked + 5, 15_000, "health checks while the keyring is locked");
    expect([...new Set(headers)]).toEqual(["Bearer sk-lock-key-0123456789abcdef"]);
    // The tunnel reconnects (a network blip while the screen is locked) with the token it has.
    const token = await apiToken(d);
    const api = (path: string, method = "GET") => fetch(`${d!.urls.api}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    expect((await api("/api/v1/tunnel/restart", "POST")).status).toBe(200);
    const t = await until(async () => {
      const t = (await (await api("/api/v1/tunnel")).json()) as { state: string; connectedSince?: string; lastError?: string };
      return t.state === "connected" || t.state === "auth_failed" || (t.lastError && /locked/.test(t.lastError)) ? t : null;
    }, 15_000, "the tunnel to reconnect or fail");
    expect(t).toMatchObject({ state: "connected" });
  } finally {
    await d?.stop();
    if (d) removeHome(d.home);
    await relay?.stop();
    upstream.stop(true);
  }
}, 60_000);
