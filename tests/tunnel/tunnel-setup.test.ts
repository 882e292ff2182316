// The tunnel a user sets up, through a real relay, daemon and CLI: the cloud URL, a refused token and its fix, a wrong relay URL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, REPO, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { runCli } from "../api/cli.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

let fake: FakeOllama;
let relay: RelayProc;
const daemons: DaemonProc[] = [];

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["llama3.2:1b"] });
  relay = await startRelayProc(relayToml());
}, 60_000);
afterAll(async () => {
  for (const d of daemons) {
    await d.stop();
    removeHome(d.home);
  }
  await relay?.stop();
  await fake?.stop();
});

const agentUrl = () => `${relay.url.replace(/^http/, "ws")}/agent`;

async function daemon(relayUrl: string, tunnel = "", backoff?: [string, string]): Promise<DaemonProc> {
  // No CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: the token is the stored secret, as `secret set` stores it.
  const d = await startDaemon({ config: daemonToml({ upstream: fake.url, relayUrl, tunnel, backoff }), waitFor: ["api"] });
  daemons.push(d);
  return d;
}

const cli = (d: DaemonProc, ...args: string[]) => runCli(d.env, ...args, "--url", d.urls.api!);

async function setSecret(d: DaemonProc, value: string): Promise<void> {
  const p = Bun.spawn([BUN, join(REPO, "src/main.ts"), "secret", "set", "tunnel-token", "--config", d.configFile], { env: d.env, stdin: new TextEncoder().encode(value), stdout: "pipe", stderr: "pipe" });
  expect(await p.exited).toBe(0);
}

async function tunnel(d: DaemonProc): Promise<any> {
  return (await fetch(`${d.urls.api}/api/v1/tunnel`)).json();
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

/** `doctor` with the daemon's own config, as the user runs it (it finds the daemon's random API port where the daemon recorded it). */
async function doctor(d: DaemonProc): Promise<{ code: number; out: string }> {
  const p = Bun.spawn([BUN, join(REPO, "src/main.ts"), "doctor", "--config", d.configFile], { env: { ...d.env, DBUS_SESSION_BUS_ADDRESS: "" }, stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  // The daemon doctor names is this one, found at its random port: every line below is about the running setup.
  expect(out).toMatch(new RegExp(`✓ Daemon +the control API answers at ${d.urls.api} and takes the API token`));
  return { code, out };
}

describe("a refused tunnel token", () => {
  test("the fix fits the setup (no [auth]: `secret set`); doctor and `tunnel restart` report it; the right token is used without a restart", async () => {
    const d = await daemon(agentUrl());
    await setSecret(d, "a-wrong-token-0123456789");
    // The daemon reads the store while the relay refuses it: the stored token is tried with no restart.
    const refused = await until("the relay to refuse the stored token", async () => {
      const t = await tunnel(d);
      return t.state === "auth_failed" && t.lastErrorCode === "unauthorized" ? t : null;
    });
    expect(refused.lastError).toContain("401");
    expect(refused.fix).toContain("`cloudtolocalllm-tunnel secret set tunnel-token`");
    expect(refused.fix).not.toContain("login");

    // The alert says the same fix, not "run login" (sign-in is not configured here).
    const alert = await until("the alert", async () => {
      const s = await (await fetch(`${d.urls.api}/api/v1/status`)).json();
      return s.alerts.find((a: any) => a.rule === "login_required");
    });
    expect(alert.message).toContain("secret set tunnel-token");
    expect(alert.message).not.toContain("cloudtolocalllm-tunnel login");

    // `tunnel restart` waits for the new attempt's outcome and fails with its reason and fix, not a stale answer.
    const restart = await cli(d, "tunnel", "restart");
    expect(restart.code).toBe(1);
    expect(restart.err).toContain("tunnel auth_failed");
    expect(restart.err).toContain("401");
    expect(restart.err).toContain("fix: store the agent token the relay expects: `cloudtolocalllm-tunnel secret set tunnel-token`");

    // doctor: the relay answers /healthz, but it refuses the token; not a ✓.
    const doc = await doctor(d);
    expect(doc.code).toBe(1);
    expect(doc.out).toMatch(/✗ Relay +127\.0\.0\.1:\d+ answers, but the tunnel is auth failed: the relay refused the agent token \(401\)/);
    expect(doc.out).toContain("fix: store the agent token the relay expects: `cloudtolocalllm-tunnel secret set tunnel-token`");

    // The right token: picked up at the next read of the store, no `tunnel restart`.
    await setSecret(d, AGENT_TOKEN);
    await until("the tunnel to connect with the new token", async () => (await tunnel(d)).state === "connected", 10_000);
    const healthy = await doctor(d);
    expect(healthy.out).toMatch(/✓ Relay +127\.0\.0\.1:\d+ is reachable .*the tunnel is connected, cloud URL http:\/\/127\.0\.0\.1:\d+\/t\/alice\//);
  }, 60_000);
});

describe("the cloud URL", () => {
  test("status (human and --json) and `tunnel restart` show the URL cloud clients use, and it answers", async () => {
    // One agent per tunnel: a daemon of an earlier test still connected as the same tunnel would replace this one's
    // connection after its restart (the newer connection wins) and the two would take turns.
    for (const old of daemons.splice(0)) {
      await old.stop();
      removeHome(old.home);
    }
    // The token from the environment, as the other tunnel tests pass it: connected from the start.
    const d = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: agentUrl() }));
    daemons.push(d);
    const cloud = `${relay.url}/t/${TUNNEL_ID}/`;

    const json = await cli(d, "status", "--json");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out).tunnel.cloudUrl).toBe(cloud);
    const human = await cli(d, "status");
    expect(human.out.replace(/\n +/g, " ")).toContain(`cloud URL ${cloud} · OpenAI base URL ${cloud}v1 · chat page ${relay.url}/chat`);

    const restart = await cli(d, "tunnel", "restart");
    expect(restart.code).toBe(0);
    expect(restart.out).toContain("tunnel connected");
    expect(restart.out).toContain(`cloud URL: ${cloud}`);
    expect(restart.out).toContain(`curl -H "Authorization: Bearer $CLIENT_KEY" ${cloud}v1/models`);
    expect(restart.out).toContain(`chat page:       ${relay.url}/chat`);
    // The chat page shown is the relay's own.
    const page = await fetch(`${relay.url}/chat`);
    expect([page.status, page.headers.get("content-type")?.startsWith("text/html")]).toEqual([200, true]);
    await page.text();

    // The URL shown is the one the relay serves: a cloud client reaches the daemon's models through it.
    const r = await fetch(`${cloud}v1/models`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    expect(r.status).toBe(200);
    expect(JSON.stringify(await r.json())).toContain("llama3.2:1b");
  }, 60_000);
});

describe("a wrong relay URL", () => {
  test("a 404 at the agent path is a permanent failure with the agent URL to use; status and `tunnel start` say so", async () => {
    const d = await daemon(`${relay.url.replace(/^http/, "ws")}/`, "", ["100ms", "200ms"]);
    await setSecret(d, AGENT_TOKEN);
    const failed = await until("the 404 to stop the tunnel", async () => {
      const t = await tunnel(d);
      return t.state === "failed" ? t : null;
    });
    expect(failed.lastErrorCode).toBe("not_found");
    expect(failed.lastError).toContain("404");
    expect(failed.fix).toBe(`set [tunnel] relay_url to ${agentUrl()} (the relay's default agent path; see [relay] agent_path)`);
    // Not retried: with a 100 ms backoff, a retried 404 would have been tried again many times meanwhile.
    const attempts = async () => Number(/^cloudtolocalllm_tunnel_connects_total\{result="not_found"\} (\d+)/m.exec(await (await fetch(`${d.urls.api}/metrics`)).text())?.[1] ?? 0);
    expect(await attempts()).toBe(1);
    await Bun.sleep(800);
    const later = await tunnel(d);
    expect(later.state).toBe("failed");
    expect(later.nextRetry).toBeNull();
    expect(await attempts()).toBe(1);
    const start = await cli(d, "tunnel", "start");
    expect(start.code).toBe(1);
    expect(start.err).toContain(`fix: set [tunnel] relay_url to ${agentUrl()}`);
    const status = await cli(d, "status");
    expect(status.out.replace(/\n +/g, " ")).toContain(`fix: set [tunnel] relay_url to ${agentUrl()}`);
  }, 60_000);

  test("a relay that does not answer: status says when the next retry is, relative, not as a timestamp", async () => {
    // A port nothing listens on (just freed): refused at once, retried after about 30 s.
    const dead = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = dead.port;
    dead.stop(true);
    const d = await daemon(`ws://127.0.0.1:${port}/agent`, "", ["30s", "60s"]);
    await setSecret(d, AGENT_TOKEN);
    await until("a scheduled retry", async () => (await tunnel(d)).nextRetry, 10_000);
    const out = (await cli(d, "status")).out;
    expect(out).toMatch(/retry in \d+ s \(attempt 1\)/);
    expect(out).not.toMatch(/retry \d{4}-\d\d-\d\dT/);
    const restart = await cli(d, "tunnel", "restart");
    expect(restart.code).toBe(1);
    expect(restart.err).toMatch(/tunnel reconnecting .*cannot reach the relay.* · retry in \d+ s/);
  }, 60_000);
});
