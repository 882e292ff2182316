// `tunnel start|stop|restart` and `status` against a real daemon connected to a real relay; /ws sees the tunnel.state events.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { removeHome, type DaemonProc } from "../helpers/daemon.ts";
import { runCli } from "./cli.ts";
import { daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { requireTools } from "../helpers/requires.ts";

let fake: FakeOllama;
let relay: RelayProc;
let d: DaemonProc;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["llama3.2:1b"] });
  relay = await startRelayProc(relayToml());
  d = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
}, 60_000);
afterAll(async () => {
  await d?.stop();
  await relay?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
});

const cli = (...args: string[]) => runCli(d.env, ...args, "--url", d.urls.api!);

async function tunnelState(): Promise<string> {
  return (await (await fetch(`${d.urls.api}/api/v1/tunnel`)).json()).state;
}
async function until(state: string, timeoutMs = 15_000) {
  const end = Date.now() + timeoutMs;
  while ((await tunnelState()) !== state) {
    if (Date.now() > end) throw new Error(`tunnel never reached ${state} (now ${await tunnelState()})`);
    await Bun.sleep(50);
  }
}

test("CLI tunnel stop/start/restart drive the real tunnel; status shows it; /ws gets tunnel.state", async () => {
  const token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
  const ws = new WebSocket(d.urls.api!.replace("http", "ws") + "/ws", { headers: { authorization: `Bearer ${token}` } } as any);
  const states: string[] = [];
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data));
    if (m.type === "tunnel.state") states.push(m.data.state);
  };
  await new Promise((r) => (ws.onopen = r));
  try {
    // A daemon just started on a loaded machine may still be connecting.
    await until("connected");
    expect((await cli("status")).out).toMatch(/tunnel connected ws:\/\/127\.0\.0\.1:\d+\/agent/);

    const stop = await cli("tunnel", "stop");
    expect(stop.code).toBe(0);
    await until("stopped");
    expect((await cli("status")).out).toContain("tunnel stopped");

    expect((await cli("tunnel", "start")).code).toBe(0);
    await until("connected");
    expect((await cli("tunnel", "restart")).code).toBe(0);
    await until("connected");
    await Bun.sleep(100);
    expect(states).toContain("stopped");
    expect(states.filter((s) => s === "connected").length).toBeGreaterThanOrEqual(1);

    const text = await (await fetch(`${d.urls.api}/metrics`)).text();
    expect(text).toMatch(/^cloudtolocalllm_tunnel_connects_total\{result="[a-z_]+"\} \d+/m);
    expect(text).toContain("cloudtolocalllm_tunnel_connected 1");
  } finally {
    ws.close();
  }
}, 60_000);

// Its own test, so that a machine without promtool still runs the one above.
requireTools(["promtool"]).test("with the tunnel's metrics registered too, /metrics passes promtool", async () => {
  await until("connected");
  const text = await (await fetch(`${d.urls.api}/metrics`)).text();
  expect(text).toContain("cloudtolocalllm_tunnel_connected 1");
  const p = Bun.spawn(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  expect(out + err).toBe("");
  expect(code).toBe(0);
}, 60_000);
