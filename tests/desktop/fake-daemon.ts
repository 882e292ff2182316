// A small stand-in for the daemon's control API (/ws snapshot + events, status, tunnel and reconnect routes) that records calls.
import type { Server, ServerWebSocket } from "bun";
import type { DaemonStatus, UpstreamStatus } from "../../src/core/contracts.ts";
import { verdict } from "../../src/core/verdict.ts";

export function upstream(name: string, over: Partial<UpstreamStatus> = {}): UpstreamStatus {
  const lat = { p50: 40, p90: 90, p95: 120, p99: 200 };
  return {
    name,
    kind: "ollama",
    url: "http://127.0.0.1:11434",
    enabled: true,
    priority: 100,
    state: "up",
    quality: "excellent",
    version: "0.6.2",
    models: ["llama3.2:1b", "qwen2.5:0.5b"],
    lastCheck: new Date().toISOString(),
    lastError: null,
    metrics: {
      requests: 10, errors: 0, errorRate: 0, latencyMs: lat, ttfbMs: lat, requestsPerSec: 0.1, bytesPerSec: 100,
      tokensPerSec: 40, healthLatencyMs: lat, totalRequests: 10, totalErrors: 0,
    },
    ...over,
  };
}

export function daemonStatus(over: Partial<DaemonStatus> = {}): DaemonStatus {
  const upstreams = over.upstreams ?? [upstream("local")];
  return {
    daemon: { version: "3.0.0", commit: "abc123", buildDate: "development", pid: 1, startedAt: new Date().toISOString(), uptimeSec: 5, configPath: "", lastReload: null },
    upstreams,
    tunnel: { state: "connected", protocol: "v2", relay: "wss://relay.example.com/agent", since: null, nextRetry: null, attempt: 0, lastError: null, tunnelId: "t1", activeStreams: 0 },
    quality: "excellent",
    verdict: verdict(upstreams),
    alerts: [],
    auth: { state: "disabled", subject: null, expiresAt: null },
    warnings: [],
    ...over,
  };
}

export interface FakeDaemon {
  url: string;
  status: DaemonStatus;
  calls: { method: string; path: string; auth: string | null }[];
  sockets(): number;
  /** Sends one /ws message to every client. */
  push(msg: unknown): void;
  /** Drops every /ws client (as a daemon restart does). */
  dropClients(): void;
  stop(): void;
}

export function startFakeDaemon(token: string, status = daemonStatus()): FakeDaemon {
  const clients = new Set<ServerWebSocket<unknown>>();
  let seq = 0;
  const fake: FakeDaemon = {
    url: "",
    status,
    calls: [],
    sockets: () => clients.size,
    push(msg) {
      const m = { seq: ++seq, time: new Date().toISOString(), ...(msg as object) };
      for (const c of clients) c.send(JSON.stringify(m));
    },
    dropClients() {
      for (const c of clients) c.close(1001, "going away");
      clients.clear();
    },
    stop() {
      server.stop(true);
    },
  };
  const server: Server<unknown> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      const url = new URL(req.url);
      const auth = req.headers.get("authorization");
      fake.calls.push({ method: req.method, path: url.pathname, auth });
      if (auth !== `Bearer ${token}`) return Response.json({ error: { code: "unauthorized", message: "missing or wrong API token" } }, { status: 401 });
      if (url.pathname === "/ws") return srv.upgrade(req, { data: undefined }) ? undefined : new Response("upgrade failed", { status: 400 });
      if (url.pathname === "/api/v1/status") return Response.json(fake.status);
      if (req.method === "POST" && /^\/api\/v1\/(tunnel\/(start|stop|restart)|reconnect)$/.test(url.pathname)) return Response.json({ ok: true });
      return Response.json({ error: { code: "not_found", message: "no such route" } }, { status: 404 });
    },
    websocket: {
      open(ws) {
        clients.add(ws);
        ws.send(JSON.stringify({ type: "snapshot", data: fake.status }));
      },
      message() {},
      close(ws) {
        clients.delete(ws);
      },
    },
  });
  fake.url = `http://127.0.0.1:${server.port}`;
  return fake;
}
