// protocol = "bridge-v1": the 1.x CloudToLocalLLM cloud's bridge (JSON text frames, whole bodies, no streaming), one attempt.
import { elapsedSince, instant, mark, realClock, type Clock } from "../core/clock.ts";
import { ConnectError, openAgentSocket, startHandshake, terminate, type Connection } from "./connector.ts";
import type { SessionCloseInfo } from "../protocol/session.ts";
import { HttpError } from "../core/http-error.ts";
import { logger } from "../core/log.ts";
import { BridgeGuard } from "./bridge-v1-guard.ts";
import { RepeatLimit } from "../core/repeat-limit.ts";

const log = logger("tunnel");

/**
 * The bridge can send requests to ignore as fast as it likes (no id, an id in flight): one line per kind per window,
 * then a count, so a hostile or broken bridge cannot fill the journal. Per process: a reconnect does not start it over.
 */
const ignoredLines = new RepeatLimit();

/** The 1.x server pings every 30 s; silence well beyond that means the connection is dead. */
const BRIDGE_PING_MS = 30_000;
/** Largest response body sent back (the 1.x server buffers it whole). */
const MAX_BRIDGE_BODY = 32 * 1024 * 1024;
/**
 * Largest message taken from the bridge: a request's whole body rides in it (no streaming), so the same bound as the
 * answer's plus room for the envelope. A bigger one is not parsed nor served: that connection is closed (a reconnect follows).
 */
export const MAX_BRIDGE_MESSAGE = MAX_BRIDGE_BODY + 64 * 1024;

interface BridgeMessage {
  type: string;
  id?: string;
  data?: Record<string, unknown>;
  timestamp?: string;
}

export interface BridgeOptions {
  url: string;
  token: string;
  caFile?: string;
  agent: string;
  toleranceMs: number;
  clock?: Clock;
  handshakeTimeoutMs?: number;
  /** Requests served at once ([tunnel] max_streams); more are answered 503. */
  maxStreams?: number;
  handle(req: Request): Promise<Response>;
}

/** The bridge URL with the token in the query, as the 1.x server requires (see docs/protocol.md for the risk). */
export function bridgeUrl(url: string, token: string): string {
  const u = new URL(url);
  u.searchParams.set("token", token);
  return u.toString();
}

const utf8 = new TextDecoder();

/** The whole body, or null (and the body cancelled) once it passes `max` bytes. */
async function readUpTo(res: Response, max: number): Promise<Uint8Array | null> {
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
}

const msg = (type: string, id: string | undefined, data: Record<string, unknown>) => JSON.stringify({ type, id, data, timestamp: new Date().toISOString() });

export function connectBridge(o: BridgeOptions): Promise<Connection> {
  const clock = o.clock ?? realClock;
  return new Promise((resolve, reject) => {
    let ended = false;
    const guard = new BridgeGuard(o.maxStreams ?? 256);
    // The requests in flight on this connection: when it ends, the 1.x server has failed them all (503) and no answer
    // can be delivered, so their upstream requests are cancelled, not left generating (a reconnect's fresh max_streams
    // would otherwise pile new generations on the orphans).
    const inFlight = new Set<AbortController>();
    // On both clocks, as the v2 session's heartbeat (docs/protocol.md, Heartbeats): a wall clock set back must not hide a
    // dead bridge for the jump, and a laptop's sleep (which the monotonic clock does not count) shows at the first tick.
    const lastSeen = instant(clock);
    let watchdog: unknown = null;
    let resolveClosed!: (i: SessionCloseInfo) => void;
    const closed = new Promise<SessionCloseInfo>((r) => (resolveClosed = r));
    const tolerance = Math.max(o.toleranceMs, BRIDGE_PING_MS * 2.5);
    // Compatibility: the 1.x server reads the token from the query; the header is sent too for servers that accept it.
    const ws = openAgentSocket(bridgeUrl(o.url, o.token), o);
    const hs = startHandshake(ws, reject, o.handshakeTimeoutMs ?? 10_000, "the bridge sent no auth message in time", o.caFile);
    const fail = hs.fail;
    const end = (info: SessionCloseInfo) => {
      if (ended) return;
      ended = true;
      if (watchdog !== null) clock.clearTimeout(watchdog);
      for (const c of inFlight) c.abort(new Error(`the bridge connection ended (${info.code})`));
      inFlight.clear();
      resolveClosed(info);
    };
    const watch = () => {
      watchdog = clock.setTimeout(() => {
        if (elapsedSince(clock, lastSeen) > tolerance) {
          end({ code: "heartbeat_timeout", reason: `no message from the bridge for ${tolerance} ms`, remote: false });
          try {
            ws.close(4004, "heartbeat_timeout");
          } catch {}
          terminate(ws);
        } else watch();
      }, Math.min(5_000, tolerance / 4));
    };

    async function serve(m: BridgeMessage): Promise<void> {
      const d = m.data ?? {};
      const method = String(d.method ?? "GET").toUpperCase();
      const admitted = guard.admit(m.id, method, d.path);
      if ("ignore" in admitted) {
        const line = ignoredLines.note(admitted.kind);
        if (line.write) log.warn("ignored a request from the bridge", { reason: admitted.ignore, repeated: line.repeated || undefined });
        return;
      }
      const id = m.id!;
      const abort = new AbortController();
      inFlight.add(abort);
      let out: Record<string, unknown>;
      try {
        const headers = new Headers();
        for (const [k, v] of Object.entries((d.headers as Record<string, unknown>) ?? {})) if (typeof v === "string") headers.set(k, v);
        const body = d.body == null || method === "GET" || method === "HEAD" ? null : typeof d.body === "string" ? d.body : JSON.stringify(d.body);
        const res = admitted instanceof HttpError ? admitted.toDialectResponse(String(d.path ?? "/")) : await o.handle(new Request(`http://bridge.invalid${admitted.path}`, { method, headers, body, signal: abort.signal }));
        // No streaming in this protocol: the whole body goes back in one message, held no further than the limit (a
        // generation that never ends is cancelled there, not buffered until memory runs out).
        const buf = await readUpTo(res, MAX_BRIDGE_BODY);
        if (!buf) throw new Error(`the response body is over the ${MAX_BRIDGE_BODY}-byte limit of bridge-v1 (it cannot stream); the upstream request was cancelled`);
        const h: Record<string, string> = {};
        res.headers.forEach((v, k) => (h[k] = v));
        out = { statusCode: res.status, headers: h, body: utf8.decode(buf) };
      } catch (e) {
        out = { statusCode: 500, headers: { "content-type": "application/json" }, body: JSON.stringify({ error: (e as Error).message }) };
      } finally {
        inFlight.delete(abort);
        if (!(admitted instanceof HttpError)) guard.done(id);
      }
      if (ws.readyState === WebSocket.OPEN) ws.send(msg("response", id, out));
    }

    ws.onmessage = (ev) => {
      mark(clock, lastSeen);
      const size = typeof ev.data === "string" ? Buffer.byteLength(ev.data) : (ev.data as ArrayBuffer).byteLength;
      if (size > MAX_BRIDGE_MESSAGE) {
        const reason = `the bridge sent a message of ${size} bytes, over the ${MAX_BRIDGE_MESSAGE}-byte limit`;
        if (!hs.settled) return fail(new ConnectError("protocol_error", reason, false));
        log.warn("closing the bridge connection: a message was too large", { bytes: size, limit: MAX_BRIDGE_MESSAGE });
        end({ code: "protocol_error", reason, remote: false });
        try {
          ws.close(4000, "protocol_error: message too large");
        } catch {}
        return terminate(ws);
      }
      let m: BridgeMessage;
      try {
        m = JSON.parse(typeof ev.data === "string" ? ev.data : utf8.decode(ev.data as ArrayBuffer));
        if (typeof m !== "object" || m === null || typeof m.type !== "string") throw new Error("not a bridge message");
      } catch {
        if (!hs.settled) return fail(new ConnectError("protocol_error", "the server did not speak bridge-v1 (is it a v2 relay? set [tunnel] protocol)", false));
        return;
      }
      if (!hs.settled) {
        if (m.type !== "auth") return;
        if (m.data?.success !== true) return fail(new ConnectError("unauthorized", "the bridge refused the token", true));
        hs.succeed();
        watch();
        resolve({
          tunnelId: String(m.data?.bridgeId ?? ""),
          closed,
          activeStreams: () => guard.size,
          close: (reason) => {
            end({ code: "normal", reason, remote: false });
            try {
              ws.close(1000, reason);
            } catch {}
          },
        });
        return;
      }
      if (m.type === "ping") ws.send(msg("pong", m.id, {}));
      else if (m.type === "request") void serve(m);
    };
    ws.onclose = (ev) => {
      if (!hs.settled) return fail(hs.lastError ? hs.upgradeError() : new ConnectError("handshake", `the bridge closed the connection (${ev.code} ${ev.reason})`, false));
      end({ code: "transport_closed", reason: `websocket closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ""})`, remote: true });
    };
  });
}
