// Fault tests in the style of frp's chaos tests: relay restarts, agent before relay, half-open links, wrong tokens, version skew, fuzzing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, bodyOutcome, cleanup, daemonToml, relayToml, rssMiB, startAgentDaemon, startBlackholeProxy, startRelayProc } from "./helpers.ts";
import { connect, ConnectError } from "../../src/tunnel/connector.ts";
import { decodeMessage, encode } from "../../src/protocol/codec.ts";
import { CAPABILITIES, PROTOCOL_VERSION, RESET_CODES } from "../../src/protocol/messages.ts";
import { freePort } from "../../bench/lib/proc.ts";
import { serveStream } from "../../src/protocol/http-over-stream.ts";
import { promSum } from "../../src/kinds/types.ts";
import { until } from "../helpers/until.ts";

let fake: FakeOllama;
const auth = { Authorization: `Bearer ${CLIENT_KEY}` };

beforeAll(async () => {
  fake = await startFakeOllama({ tokens: 100_000, tokenDelayMs: 20 });
});
afterAll(async () => {
  await fake?.stop();
});


const wsUrl = (httpUrl: string) => `${httpUrl.replace(/^http/, "ws")}/agent`;

describe("faults", () => {
  test("relay killed and restarted 10 times: the agent is back each time within the backoff bounds, in-flight requests end", async () => {
    const port = await freePort();
    const toml = relayToml({ listen: `127.0.0.1:${port}` });
    let relay = await startRelayProc(toml);
    const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: wsUrl(relay.url), backoff: ["100ms", "400ms"] }));
    try {
      for (let round = 0; round < 10; round++) {
        await relay.waitFor(/relay: agent connected/, 5_000);
        // A long generation in flight when the relay dies.
        const abortsBefore = fake.aborts.length;
        const res = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ model: "llama3.2:1b", prompt: "long" }),
        });
        expect(res.status).toBe(200);
        const reader = res.body!.getReader();
        await reader.read();
        relay.proc.kill("SIGKILL");
        await relay.proc.exited;
        // The client sees a clear error, not a hang.
        const outcome = await bodyOutcome(reader);
        expect(outcome).not.toBe("hung");
        const dir = relay.dir;
        relay = await startRelayProc(toml, dir);
        const t0 = performance.now();
        await relay.waitFor(/relay: agent connected/, 5_000);
        const back = performance.now() - t0;
        // Max backoff 400 ms + 20 % jitter, plus a heartbeat tolerance to notice the drop, plus slack for a loaded machine.
        expect(back).toBeLessThan(480 + 1_200 + 1_500);
        // The daemon held the answer for a resume; the new relay has no client waiting for it (RESUME_REFUSED), so
        // the daemon cancels the upstream generation.
        await fake.waitForAborts(abortsBefore + 1, 5_000);
      }
      expect(daemon.proc.exitCode).toBeNull();
      const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: auth });
      expect(r.status).toBe(200);
    } finally {
      await daemon.stop();
      await relay.stop();
      cleanup(relay.dir, daemon.home);
    }
  }, 90_000);

  test("a reload that changes [tunnel] moves the agent; other changes leave the connection alone", async () => {
    const a = await startRelayProc(relayToml());
    const b = await startRelayProc(relayToml());
    const toml = daemonToml({ upstream: fake.url, relayUrl: wsUrl(a.url) });
    const daemon = await startAgentDaemon(toml);
    try {
      await a.waitFor(/relay: agent connected/);
      // Unrelated section: same connection.
      await Bun.write(daemon.configFile, toml + "\n[alerts]\ncooldown = \"7m\"\n");
      daemon.proc.kill("SIGHUP");
      await daemon.waitFor(/configuration reloaded.*sections=alerts/, 5_000);
      await Bun.sleep(300);
      expect(a.count(/agent disconnected/)).toBe(0);
      // New relay URL: the tunnel follows.
      await Bun.write(daemon.configFile, daemonToml({ upstream: fake.url, relayUrl: wsUrl(b.url) }));
      daemon.proc.kill("SIGHUP");
      await b.waitFor(/relay: agent connected/, 5_000);
      await a.waitFor(/relay: agent disconnected/, 5_000);
      expect((await fetch(`${b.url}/t/${TUNNEL_ID}/api/version`, { headers: auth })).status).toBe(200);
    } finally {
      await daemon.stop();
      await a.stop();
      await b.stop();
      cleanup(a.dir, b.dir, daemon.home);
    }
  }, 30_000);

  test("an agent started before its relay connects once the relay is up", async () => {
    const port = await freePort();
    const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${port}/agent`, backoff: ["100ms", "300ms"] }), {}, false);
    let relay;
    try {
      await daemon.waitFor(/tunnel: relay connection failed; retrying/, 10_000);
      relay = await startRelayProc(relayToml({ listen: `127.0.0.1:${port}` }));
      await relay.waitFor(/relay: agent connected/, 5_000);
      await daemon.waitFor(/tunnel: connected to the relay/, 5_000);
      const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/version`, { headers: auth });
      expect(r.status).toBe(200);
    } finally {
      await daemon.stop();
      await relay?.stop();
      cleanup(relay?.dir, daemon.home);
    }
  }, 30_000);

  test("a half-open connection is noticed within the heartbeat tolerance on both sides", async () => {
    const relay = await startRelayProc(relayToml());
    const proxy = await startBlackholeProxy({ host: "127.0.0.1", port: relay.port });
    const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${proxy.port}/agent`, heartbeat: ["200ms", "800ms"] }));
    try {
      await relay.waitFor(/relay: agent connected/);
      await Bun.sleep(500); // heartbeats flow fine through the proxy
      expect(daemon.stderr()).not.toMatch(/heartbeat_timeout/);
      const t0 = performance.now();
      proxy.blackhole();
      await daemon.waitFor(/heartbeat_timeout/, 5_000);
      const noticed = performance.now() - t0;
      // tolerance 800 ms + one check tick (200 ms) + log and scheduling slack
      expect(noticed).toBeLessThan(800 + 200 + 700);
      await relay.waitFor(/agent disconnected.*heartbeat_timeout/, 5_000);
    } finally {
      proxy.stop();
      await daemon.stop();
      await relay.stop();
      cleanup(relay.dir, daemon.home);
    }
  }, 30_000);

  // The relay still holds a session whose link died on the agent's side only (the agent noticed first); a call waits on
  // it, and the agent connects again: its new connection replaces the old one. The agent is online: the waiting call is
  // a 503 tunnel_moving to retry, not a 502 saying the tunnel is offline.
  test("a call waiting on a half-open agent connection when the agent connects again is 503 tunnel_moving with Retry-After, not 502 tunnel_offline", async () => {
    // A long tolerance at the relay: the half-open session outlives the scenario, as the 15 s default would.
    const relay = await startRelayProc(relayToml().replace('tolerance = "1200ms"', 'tolerance = "20s"'));
    const proxy = await startBlackholeProxy({ host: "127.0.0.1", port: relay.port });
    const agents: Awaited<ReturnType<typeof connect>>[] = [];
    const agentAt = async (port: number, name: string) => {
      const c = await connect({
        url: `ws://127.0.0.1:${port}/agent`,
        token: AGENT_TOKEN,
        agent: name,
        heartbeatMs: 300,
        toleranceMs: 20_000,
        maxStreams: 8,
        onStream: (st) => void serveStream(st, async () => Response.json({ agent: name })),
      });
      agents.push(c);
      return c;
    };
    const streams = async () => promSum(await (await fetch(`${relay.url}/metrics`)).text(), "cloudtolocalllm_relay_streams_active") ?? 0;
    try {
      await agentAt(proxy.port, "one");
      proxy.blackhole();
      const before = await streams();
      const waiting = fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: auth, signal: AbortSignal.timeout(15_000) });
      await until(async () => (await streams()) > before, 5_000, "the call to wait on the half-open session");
      await agentAt(relay.port, "two");
      const r = await waiting;
      expect(r.status).toBe(503);
      expect(r.headers.get("x-c2l-error-code")).toBe("tunnel_moving");
      expect(r.headers.get("retry-after")).toBe("1");
      expect(((await r.json()) as { error: string }).error).toMatch(/moving to another relay connection; retry in a moment/);
      const next = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: auth });
      expect(await next.json()).toEqual({ agent: "two" });
    } finally {
      for (const a of agents) a.close("test over");
      proxy.stop();
      await relay.stop();
      cleanup(relay.dir);
    }
  }, 30_000);

  test("a wrong token is a permanent error: auth_failed, no retry storm", async () => {
    const relay = await startRelayProc(relayToml());
    const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: wsUrl(relay.url), backoff: ["50ms", "100ms"] }), { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: "wrong-token-0123456789" }, false);
    try {
      await daemon.waitFor(/tunnel: the relay refused our credentials; not retrying/, 10_000);
      await Bun.sleep(1_500); // with a 50 ms backoff a retry loop would make ~20 attempts here
      const metrics = await (await fetch(`${relay.url}/metrics`)).text();
      const attempts = Number(/cloudtolocalllm_relay_agent_connections_total\{result="unauthorized"\} (\d+)/.exec(metrics)?.[1] ?? 0);
      expect(attempts).toBe(1);
      expect(daemon.stderr()).not.toContain("wrong-token-0123456789");
    } finally {
      await daemon.stop();
      await relay.stop();
      cleanup(relay.dir, daemon.home);
    }
  }, 30_000);

  test("an incompatible protocol version is refused with a clear reason on both sides", async () => {
    const relay = await startRelayProc(relayToml());
    try {
      const err = await connect({
        url: wsUrl(relay.url),
        token: AGENT_TOKEN,
        agent: "old-agent/1",
        heartbeatMs: 1000,
        toleranceMs: 3000,
        maxStreams: 8,
        onStream: () => {},
        version: PROTOCOL_VERSION + 1,
      }).then(
        () => null,
        (e) => e,
      );
      expect(err).toBeInstanceOf(ConnectError);
      expect(err.code).toBe("incompatible_version");
      expect(err.permanent).toBe(true);
      expect(err.message).toMatch(new RegExp(`protocol ${PROTOCOL_VERSION}.*version ${PROTOCOL_VERSION + 1}`));
      await relay.waitFor(/agent refused: incompatible protocol version/);
    } finally {
      await relay.stop();
      cleanup(relay.dir);
    }
  });

  test("fuzzed frames into a live relay: each bad connection is closed with a protocol error, the relay lives on", async () => {
    const relay = await startRelayProc(relayToml());
    try {
      let seed = 7;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
      const valid = [
        encode({ type: "WINDOW_UPDATE", stream: 1, increment: 5 }),
        encode({ type: "RESPONSE_HEAD", stream: 1, body: { status: 200, headers: [] } }),
        encode({ type: "DATA", stream: 3, data: new Uint8Array([1, 2]) }),
        encode({ type: "PING", stream: 0, opaque: new Uint8Array(8) }),
        encode({ type: "RESET", stream: 5, body: { code: "cancel", reason: "x" } }),
      ];
      const mutate = (): Uint8Array => {
        if (rnd() < 0.3) {
          const b = new Uint8Array(Math.floor(rnd() * 40));
          for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
          return b;
        }
        const b = valid[Math.floor(rnd() * valid.length)]!.slice();
        for (let k = 0; k < 1 + rnd() * 3; k++) if (b.length) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        return b;
      };
      const before = rssMiB(relay.proc.pid);
      const codes = new Map<number, number>();
      let frames = 0;
      const CONNS = 200;
      for (let batch = 0; batch < CONNS / 20; batch++) {
        await Promise.all(
          Array.from({ length: 20 }, async (_, i) => {
            const ws = new WebSocket(wsUrl(relay.url), { headers: { Authorization: `Bearer ${AGENT_TOKEN}` } } as unknown as string[]);
            ws.binaryType = "arraybuffer";
            const closed = new Promise<number>((res) => (ws.onclose = (e) => res(e.code)));
            await new Promise((r) => (ws.onopen = r));
            // Half of the connections fuzz the handshake, half fuzz a live session.
            if ((batch * 20 + i) % 2 === 0) ws.send(encode({ type: "HELLO", stream: 0, body: { version: PROTOCOL_VERSION, capabilities: CAPABILITIES, agent: "fuzz" } }) as Uint8Array<ArrayBuffer>);
            for (let k = 0; k < 50 && ws.readyState === WebSocket.OPEN; k++) {
              ws.send(mutate() as Uint8Array<ArrayBuffer>);
              frames++;
              await Bun.sleep(0);
            }
            // Always end with a frame that is certainly malformed, in case every mutation happened to be harmless.
            if (ws.readyState === WebSocket.OPEN) ws.send(new Uint8Array([0xee, 0, 0, 0, 0, 0]));
            const code = await Promise.race([closed, Bun.sleep(3_000).then(() => -1)]);
            codes.set(code, (codes.get(code) ?? 0) + 1);
            if (code === -1) ws.close();
          }),
        );
      }
      // 1002 = protocol error. Live-session fuzzers share one tunnel, so one may be replaced (4001) by the next
      // before its bad frame lands; nothing may be left open and nothing may be closed for any other reason.
      expect([...codes.keys()].filter((c) => c !== 1002 && c !== 4001)).toEqual([]);
      expect(codes.get(1002)).toBeGreaterThanOrEqual(CONNS / 2);
      expect((codes.get(1002) ?? 0) + (codes.get(4001) ?? 0)).toBe(CONNS);
      expect(frames).toBeGreaterThan(CONNS);
      expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
      const metrics = await (await fetch(`${relay.url}/metrics`)).text();
      expect(metrics).toMatch(/cloudtolocalllm_relay_protocol_errors_total\{code="/);
      expect(rssMiB(relay.proc.pid).hwm).toBeLessThan(Math.max(before.hwm, 100) + 150);
      expect(relay.proc.exitCode).toBeNull();
      // Whatever the bytes, the relay's log stays structured: one line at a level each, no stack frames, no stray failures.
      const lines = (relay.stderr() + relay.stdout()).split("\n").filter((l) => l !== "");
      expect(lines.filter((l) => !/^\d{4}-\d\d-\d\dT[\d:.]+Z (debug|info|warn|error) [a-z-]+: \S/.test(l) || /^\s+at |\$bunfs|unhandled|unexpected error/i.test(l))).toEqual([]);
    } finally {
      await relay.stop();
      cleanup(relay.dir);
    }
  }, 60_000);

  test("100k fuzzed frames into live relay sessions: tolerated ones keep the session, bad ones close it with a protocol error", async () => {
    const relay = await startRelayProc(relayToml());
    try {
      let seed = 11;
      const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
      const int = (n: number) => Math.floor(rnd() * n);
      const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
      const text = () => String.fromCharCode(...Array.from({ length: int(12) }, () => 32 + int(95)));
      const streamId = () => 1 + int(1000);
      // Structure-aware: frames of every type a relay may receive, with random ids, sizes and field values, so that most
      // reach the session's dispatch instead of dying in the header check; about 1 in 100 is broken on purpose (a random
      // byte flipped, or random bytes) and must close its session with a protocol error.
      const frame = (): Uint8Array => {
        if (rnd() < 0.005) return bytes(int(40));
        const kinds = [
          () => encode({ type: "PING", stream: 0, opaque: bytes(8) }),
          () => encode({ type: "PONG", stream: 0, opaque: bytes(8) }),
          () => encode({ type: "DATA", stream: streamId(), data: bytes(int(256)) }),
          () => encode({ type: "END", stream: streamId() }),
          () => encode({ type: "WINDOW_UPDATE", stream: streamId(), increment: 1 + int(2 ** 30) }),
          () => encode({ type: "RESET", stream: streamId(), body: { code: RESET_CODES[int(RESET_CODES.length)]!, reason: text() } }),
          () => encode({ type: "RESPONSE_HEAD", stream: streamId(), body: { status: 200 + int(400), headers: [["x-fuzz", text()]] } }),
        ];
        const b = kinds[int(kinds.length)]!();
        if (rnd() < 0.005 && b.length) b[int(b.length)] = int(256);
        return b;
      };
      const before = rssMiB(relay.proc.pid);
      const TOTAL = 100_000;
      const BARRIER = 20;
      const codes = new Map<number, number>();
      // Only frames the relay provably read count: every BARRIER frames a PING with a marked payload goes out, and the
      // frames before it count once its PONG is back (frames are read in order); frames sent before a close do not.
      let confirmed = 0;
      let sessions = 0;
      while (confirmed < TOTAL) {
        const ws = new WebSocket(wsUrl(relay.url), { headers: { Authorization: `Bearer ${AGENT_TOKEN}` } } as unknown as string[]);
        ws.binaryType = "arraybuffer";
        let onPong: ((n: number) => void) | null = null;
        let welcome: (() => void) | null = null;
        const welcomed = new Promise<void>((r) => (welcome = r));
        ws.onmessage = (e) => {
          if (welcome) return welcome();
          // This agent lists "batch", so the PONG may arrive inside a BATCH with the relay's RESETs.
          const m = decodeMessage(new Uint8Array(e.data as ArrayBuffer));
          for (const f of m.type === "BATCH" ? m.frames : [m]) {
            if (f.type === "PONG" && f.opaque[0] === 0xc2 && f.opaque[1] === 0x1c) onPong?.(new DataView(f.opaque.buffer, f.opaque.byteOffset + 4, 4).getUint32(0));
          }
        };
        const closed = new Promise<number>((res) => (ws.onclose = (e) => res(e.code)));
        await new Promise((r) => (ws.onopen = r));
        ws.send(encode({ type: "HELLO", stream: 0, body: { version: PROTOCOL_VERSION, capabilities: CAPABILITIES, agent: "fuzz" } }) as Uint8Array<ArrayBuffer>);
        await Promise.race([welcomed, closed]);
        welcome = null;
        sessions++;
        for (let round = 0; confirmed < TOTAL && ws.readyState === WebSocket.OPEN; round++) {
          for (let i = 0; i < BARRIER; i++) ws.send(frame() as Uint8Array<ArrayBuffer>);
          const marker = new Uint8Array(8);
          marker.set([0xc2, 0x1c]);
          new DataView(marker.buffer).setUint32(4, round);
          const ponged = new Promise<boolean>((res) => (onPong = (n) => n === round && res(true)));
          ws.send(encode({ type: "PING", stream: 0, opaque: marker }) as Uint8Array<ArrayBuffer>);
          if (await Promise.race([ponged, closed.then(() => false)])) confirmed += BARRIER;
        }
        if (ws.readyState === WebSocket.OPEN) ws.send(new Uint8Array([0xee, 0, 0, 0, 0, 0]));
        const code = await Promise.race([closed, Bun.sleep(5_000).then(() => -1)]);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      expect(confirmed).toBeGreaterThanOrEqual(TOTAL);
      // Sessions follow one another on one tunnel, so every close is a protocol error (1002); none hung, none other.
      expect([...codes.keys()]).toEqual([1002]);
      expect(codes.get(1002)).toBe(sessions);
      expect(sessions).toBeGreaterThan(1);
      expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
      expect(rssMiB(relay.proc.pid).hwm).toBeLessThan(Math.max(before.hwm, 100) + 150);
      expect(relay.proc.exitCode).toBeNull();
    } finally {
      await relay.stop();
      cleanup(relay.dir);
    }
  }, 120_000);
});
