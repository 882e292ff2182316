// End to end over loopback: a real relay process and a real daemon process; the official ollama client calls through the tunnel.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Ollama } from "ollama";
import type { FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { ADMIN_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, generatedBody, daemonToml, relayToml, rssMiB, startAgentDaemon, type RelayProc } from "./helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";
import { hashToken } from "../../src/relay/auth.ts";

let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;
const MODELS = Array.from({ length: 200 }, (_, i) => `m${i}:latest`);
const auth = { Authorization: `Bearer ${CLIENT_KEY}` };
const BOB_AGENT = "bob-agent-token-xxxxxxxx";
const BOB_CLIENT = "bob-client-key-xxxxxxxx";

let rig: TunnelRig;

beforeAll(async () => {
  rig = await startTunnelRig({
    fake: { models: MODELS, tokens: 8, tokenDelayMs: 2 },
    relayToml: relayToml({ extra: "" }) + `\n[[tunnels]]\nid = "bob"\nagent_token_sha256 = "${hashToken(BOB_AGENT)}"\nclient_key_sha256 = ["${hashToken(BOB_CLIENT)}"]\n`,
    tunnel: "allow_model_management = true",
  });
  ({ fake, relay, daemon } = rig);
  // The broker learns the models from its first health check.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: auth });
    if (r.ok && ((await r.json()) as { models: unknown[] }).models.length === MODELS.length) break;
    await Bun.sleep(100);
  }
}, 40_000);
afterAll(async () => {
  await rig?.stop();
});

describe("through a real relay and a real daemon", () => {
  test("the ollama client streams a chat relay → tunnel → broker → fake Ollama", async () => {
    const ollama = new Ollama({ host: `${relay.url}/t/${TUNNEL_ID}`, headers: auth });
    const parts: string[] = [];
    let done = false;
    for await (const p of await ollama.chat({ model: MODELS[0]!, messages: [{ role: "user", content: "hi" }], stream: true })) {
      if (p.done) done = true;
      else parts.push(p.message.content);
    }
    expect(parts.length).toBe(8);
    expect(done).toBe(true);
    const last = fake.requests.at(-1)!;
    expect(last.path).toBe("/api/chat");
    // The relay's and the client's credentials never reach the upstream.
    expect(last.headers.authorization).toBeUndefined();
    expect(last.headers.cookie).toBeUndefined();
    const tags = await ollama.list();
    expect(tags.models.length).toBe(MODELS.length);
  });

  test("errors are JSON in Ollama's shape with stable codes in x-c2l-error-code: unauthorized, tunnel offline, path refused by the agent", async () => {
    const noKey = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`);
    expect(noKey.status).toBe(401);
    expect(noKey.headers.get("x-c2l-error-code")).toBe("unauthorized");
    expect(typeof ((await noKey.json()) as { error: unknown }).error).toBe("string");
    const wrongTunnel = await fetch(`${relay.url}/t/bob/api/tags`, { headers: auth });
    expect(wrongTunnel.status).toBe(401);
    const offline = await fetch(`${relay.url}/t/bob/api/tags`, { headers: { Authorization: `Bearer ${BOB_CLIENT}` } });
    expect(offline.status).toBe(502);
    expect(offline.headers.get("x-c2l-error-code")).toBe("tunnel_offline");
    expect(((await offline.json()) as { error: string }).error).toBe('tunnel "bob" is not connected');
    const refused = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/v1/status`, { headers: auth });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("x-c2l-error-code")).toBe("forbidden");
    // /api/v1/* is our control API's namespace: refused in the control API's shape, not Ollama's (docs/errors.md).
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/allowed_paths/);
  });

  test("health, readiness, metrics and the authenticated tunnel listing", async () => {
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${relay.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).toMatch(/cloudtolocalllm_relay_tunnels_connected 1/);
    expect((await fetch(`${relay.url}/api/tunnels`)).status).toBe(401);
    const list = (await (await fetch(`${relay.url}/api/tunnels`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { tunnels: { id: string }[] };
    expect(list.tunnels.map((t) => t.id)).toEqual([TUNNEL_ID]);
  });

  test("200 concurrent streams complete without loss or reordering", async () => {
    const results = await Promise.all(
      MODELS.map(async (model) => {
        const res = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ model, messages: [{ role: "user", content: model }], stream: true }),
        });
        const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l) as { model: string; message: { content: string }; done: boolean });
        return { model, status: res.status, lines };
      }),
    );
    const reference = results[0]!.lines.map((l) => l.message.content);
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.lines.length).toBe(9);
      expect(r.lines.every((l) => l.model === r.model)).toBe(true);
      expect(r.lines.map((l) => l.message.content)).toEqual(reference);
      expect(r.lines.at(-1)!.done).toBe(true);
    }
  }, 30_000);

  test("a client abort at the relay closes the upstream's connection within 200 ms", async () => {
    fake.options.tokens = 100_000;
    fake.options.tokenDelayMs = 10;
    try {
      const before = fake.aborts.length;
      const ac = new AbortController();
      const res = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ model: MODELS[1], prompt: "go on forever" }),
        signal: ac.signal,
      });
      const reader = res.body!.getReader();
      await reader.read();
      await reader.read();
      const t0 = performance.now();
      ac.abort();
      const aborts = await fake.waitForAborts(before + 1, 3_000);
      const took = aborts.at(-1)!.time - t0;
      expect(took).toBeLessThan(200);
    } finally {
      fake.options.tokens = 8;
      fake.options.tokenDelayMs = 2;
    }
  });

  test("a stalled reader on one stream does not hold up another", async () => {
    fake.options.tokens = 20_000;
    fake.options.tokenDelayMs = 0;
    try {
      const req = (model: string) =>
        fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ model, messages: [{ role: "user", content: "x" }] }),
        });
      const stalled = await req(MODELS[2]!);
      const r = stalled.body!.getReader();
      await r.read(); // then never read again
      const t0 = performance.now();
      const other = await req(MODELS[3]!);
      const lines = (await other.text()).trim().split("\n");
      expect(lines.length).toBe(20_001);
      expect(JSON.parse(lines.at(-1)!).done).toBe(true);
      // Generous: the point is that it finishes at all while the other stream is stuck on its window.
      expect(performance.now() - t0).toBeLessThan(15_000);
      await r.cancel();
    } finally {
      fake.options.tokens = 8;
    }
  }, 30_000);

  test("start, stop and restart from the control API; state in status, events and /metrics", async () => {
    const token = (await Bun.file(`${daemon.home}/.config/cloudtolocalllm/api-token`).text()).trim();
    const api = (path: string, method = "GET") => fetch(`${daemon.urls.api}${path}`, { method, headers: { Authorization: `Bearer ${token}` } });
    const state = async () => ((await (await api("/api/v1/tunnel")).json()) as { state: string; tunnelId: string | null; relay: string });
    expect(await state()).toMatchObject({ state: "connected", tunnelId: TUNNEL_ID, relay: `${relay.url.replace(/^http/, "ws")}/agent` });
    const agentsBefore = relay.count(/agent disconnected/);
    expect(((await (await api("/api/v1/tunnel/stop", "POST")).json()) as { state: string }).state).toBe("stopped");
    for (let i = 0; i < 50 && relay.count(/agent disconnected/) === agentsBefore; i++) await Bun.sleep(50);
    expect(relay.count(/agent disconnected/)).toBe(agentsBefore + 1);
    expect((await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: auth })).status).toBe(502);
    await api("/api/v1/tunnel/start", "POST");
    for (let i = 0; i < 50 && (await state()).state !== "connected"; i++) await Bun.sleep(100);
    expect((await state()).state).toBe("connected");
    await api("/api/v1/tunnel/restart", "POST");
    for (let i = 0; i < 50 && (await state()).state !== "connected"; i++) await Bun.sleep(100);
    expect((await state()).state).toBe("connected");
    expect((await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: auth })).status).toBe(200);
    const events = (await (await api("/api/v1/events")).json()) as { type: string; data: { state: string } }[] | { events: { type: string; data: { state: string } }[] };
    const list = Array.isArray(events) ? events : events.events;
    const states = list.filter((e) => e.type === "tunnel.state").map((e) => e.data.state);
    expect(states).toContain("stopped");
    expect(states.at(-1)).toBe("connected");
    const prom = await (await api("/metrics")).text();
    expect(prom).toMatch(/cloudtolocalllm_tunnel_state\{state="connected"\} 1/);
    expect(prom).toMatch(/cloudtolocalllm_tunnel_requests_total\{status="200"\} \d+/);
  });

  test("a 1 GB upload streams through with both processes' memory bounded", async () => {
    // Its own agent (tunnel "bob") and a counting upstream: the upload must not be held anywhere on the way.
    let received = 0;
    const sink = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      async fetch(req) {
        const p = new URL(req.url).pathname;
        if (p === "/api/version") return Response.json({ version: "0.6.0" });
        if (p === "/api/tags") return Response.json({ models: [] });
        if (p.startsWith("/api/blobs/") && req.body) {
          for await (const c of req.body) received += c.byteLength;
          return new Response(null, { status: 201 });
        }
        return new Response("not found", { status: 404 });
      },
    });
    const bob = await startAgentDaemon(
      daemonToml({ upstream: `http://127.0.0.1:${sink.port}`, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: "allow_model_management = true" }),
      { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: BOB_AGENT },
    );
    try {
      const total = 1024 * 1024 * 1024;
      const body = generatedBody(total);
      const relayBefore = rssMiB(relay.proc.pid);
      const daemonBefore = rssMiB(bob.proc.pid);
      const res = await fetch(`${relay.url}/t/bob/api/blobs/sha256:${"0".repeat(64)}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${BOB_CLIENT}` },
        body,
        // @ts-expect-error streamed request body
        duplex: "half",
      });
      expect(res.status).toBe(201);
      expect(received).toBe(total);
      const relayAfter = rssMiB(relay.proc.pid);
      const daemonAfter = rssMiB(bob.proc.pid);
      // Peak resident memory must stay far below the body size: nothing buffers the upload.
      expect(relayAfter.hwm).toBeLessThan(Math.max(relayBefore.hwm, 100) + 200);
      expect(daemonAfter.hwm).toBeLessThan(Math.max(daemonBefore.hwm, 100) + 200);
      console.log(`1 GB upload: relay VmHWM ${relayBefore.hwm.toFixed(0)}→${relayAfter.hwm.toFixed(0)} MiB, daemon ${daemonBefore.hwm.toFixed(0)}→${daemonAfter.hwm.toFixed(0)} MiB`);
    } finally {
      await bob.stop();
      sink.stop(true);
      cleanup(bob.home);
    }
  }, 120_000);
});
