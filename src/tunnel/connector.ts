// One connection attempt to a relay (protocol v2): WebSocket with a bearer header, HELLO/WELCOME, then a live Session. Never retries.
import { CaFileError, trustWithCaFile } from "../net/ca-trust.ts";
import { unreachableWith, whyUnreachable } from "../net/unreachable.ts";
import { decode, ProtocolError } from "../protocol/codec.ts";
import { helloFrame, readWelcome } from "../protocol/handshake.ts";
import { BATCH_CAPABILITY, CAPABILITIES, CLOSE_CODES, closeReasonOf, PROTOCOL_VERSION, RESUME_CAPABILITY } from "../protocol/messages.ts";
import type { AnswerResumes } from "../protocol/resumable-answer.ts";
import { Session, type SessionCloseInfo } from "../protocol/session.ts";
import type { Stream } from "../protocol/stream.ts";
import type { Clock } from "../core/clock.ts";
import { relayText } from "./relay-text.ts";

export type ConnectErrorCode = "unauthorized" | "forbidden" | "incompatible_version" | "http_error" | "network" | "handshake" | "protocol_error" | "no_token" | "signed_out" | "login_required" | "config" | "not_found";

/** Why an attempt failed; `permanent` errors stop the supervisor (retrying cannot help until something changes). */
export class ConnectError extends Error {
  constructor(
    readonly code: ConnectErrorCode,
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = "ConnectError";
  }
}

export interface Connection {
  /** The v2 session (absent for bridge-v1). */
  session?: Session;
  tunnelId: string;
  activeStreams(): number;
  /** Resolves when the session ends, with why. */
  closed: Promise<SessionCloseInfo>;
  close(reason: string): void;
}

export interface ConnectOptions {
  url: string;
  token: string;
  /** PEM of an extra CA to trust, added to the default trust (system store, NODE_EXTRA_CA_CERTS); verification is never disabled. */
  caFile?: string;
  agent: string;
  heartbeatMs: number;
  toleranceMs: number;
  maxStreams: number;
  /** A stream the relay leaves waiting this long is reset (Session's stallMs); 0 or absent, never. */
  stallMs?: number;
  onStall?: (reason: string) => void;
  handshakeTimeoutMs?: number;
  /** Calls the attempt off (the supervisor stopped): the socket is closed and the attempt fails. */
  signal?: AbortSignal;
  clock?: Clock;
  /** Each stream the relay opens; `resume`: its session negotiated "resume" (hold its answer there). */
  onStream(s: Stream, resume?: AnswerResumes): void;
  /** The answers this agent holds across reconnects; absent, "resume" is not offered. */
  resume?: AnswerResumes;
  /** Tests only: pretend to speak another protocol version. */
  version?: number;
  /** Tests only: the capabilities to offer (an agent of the previous release offered no "batch"). */
  capabilities?: readonly string[];
}

/** TLS failures a trusted CA cannot fix, by Bun's wording, and what to say instead. */
const TLS_NOT_A_CA: readonly [RegExp, string][] = [
  [/altnames|Hostname\/IP does not match|ALTNAME/i, "the relay's certificate is not for the host in [tunnel] relay_url: use a name the certificate lists"],
  [/expired/i, "the relay's certificate has expired: it must be renewed on the relay"],
];

/** Classifies the text of Bun's WebSocket error ("Expected 101 status code: 401" for a refused upgrade); caFile is [tunnel] ca_file when set. */
export function classifyUpgradeError(raw: string, caFile?: string): ConnectError {
  // Bun quotes the URL; bridge-v1 URLs carry the token in the query, which must not reach status or events.
  const message = raw.replace(/\?[^'"\s]*/g, "");
  const status = Number(/status code:?\s*(\d{3})/i.exec(message)?.[1] ?? 0);
  if (status === 401) return new ConnectError("unauthorized", "the relay refused the agent token (401)", true);
  if (status === 403) return new ConnectError("forbidden", "the relay refused this agent (403)", true);
  // No agent endpoint at this path (relay_url names the wrong path or not a relay): retrying cannot make one appear.
  if (status === 404) return new ConnectError("not_found", "the relay has no agent endpoint at this URL (HTTP 404)", true);
  if (status) return new ConnectError("http_error", `the relay answered HTTP ${status} instead of a WebSocket upgrade`, false);
  if (/certificate|self[- ]signed|tls|ssl|UNABLE_TO_VERIFY|DEPTH_ZERO/i.test(message)) {
    // With ca_file set, "set ca_file" would send the user in a circle: say what was actually trusted. A certificate for
    // another name, or an expired one, is no CA's fault: a CA hint would send the user the wrong way.
    const hint =
      TLS_NOT_A_CA.find(([re]) => re.test(message))?.[1] ??
      (caFile
        ? `the relay's certificate is not signed by the CA in [tunnel] ca_file (${caFile}) nor by one in the system store or NODE_EXTRA_CA_CERTS; check that ca_file holds the CA that signed it`
        : "set [tunnel] ca_file (or NODE_EXTRA_CA_CERTS) for a private CA");
    return new ConnectError("network", `TLS verification of the relay failed (${message}); ${hint}`, false);
  }
  return new ConnectError("network", `cannot reach the relay: ${message || "connection failed"}`, false);
}

/** A close during the handshake, classified by the one close-code table (src/protocol/messages.ts). */
function closeError(code: number, reason: string): ConnectError {
  const text = relayText(reason) || `WebSocket closed with code ${code}`;
  const why = closeReasonOf(code, reason);
  if (why === "incompatible_version") return new ConnectError("incompatible_version", `the relay refused our protocol version: ${text}`, CLOSE_CODES[why].permanent);
  if (why === "unauthorized") return new ConnectError("unauthorized", `the relay refused the agent: ${text}`, CLOSE_CODES[why].permanent);
  if (why === "protocol_error") return new ConnectError("protocol_error", `the relay closed the connection: ${text}`, CLOSE_CODES[why].permanent);
  return new ConnectError("handshake", `the relay closed the connection during the handshake: ${text}`, false);
}

/** Opens the agent's WebSocket: bearer header, user agent, and the extra CA added to the default trust when configured (verification is never off). */
export function openAgentSocket(url: string, o: { token: string; agent: string; caFile?: string }): WebSocket {
  let ca: string[] | undefined;
  try {
    ca = trustWithCaFile(o.caFile);
  } catch (e) {
    if (e instanceof CaFileError) throw new ConnectError("config", e.message, true);
    throw e;
  }
  return new WebSocket(url, {
    headers: { Authorization: `Bearer ${o.token}`, "User-Agent": o.agent },
    // Said outright: NODE_TLS_REJECT_UNAUTHORIZED=0 in the daemon's environment (set for some other tool) would
    // otherwise turn verification off, and any certificate would get the token.
    tls: { rejectUnauthorized: true, ...(ca ? { ca } : {}) },
    // No permessage-deflate offered (the relay never compresses): Bun's client has no receive limit of ours (maxPayload
    // is not honoured; ~128 MiB a message), and with deflate a relay could make it inflate 128 MiB from ~128 KiB sent.
    // Without the offer, a relay that compresses anyway fails the connection (RSV1 set, or an extension not offered).
    perMessageDeflate: false,
  } as unknown as string[]);
}

/** Drops the socket at once: a dead (half-open) peer never answers a close. Bun's WebSocket has terminate(); the type does not say so. */
export function terminate(ws: WebSocket): void {
  (ws as unknown as { terminate?: () => void }).terminate?.();
}

/** One attempt's handshake: it settles once, a failure closes the socket, and no answer within the timeout fails it. */
export interface Handshake {
  readonly settled: boolean;
  /** Text of the socket's last error event (a refused upgrade shows up there). */
  readonly lastError: string;
  /** The last error event, classified (naming ca_file when it is set). */
  upgradeError(): ConnectError;
  fail(e: ConnectError): void;
  /** The handshake is done: stops the timer (the caller resolves). */
  succeed(): void;
}

/** Arms the handshake timer and the socket's error handler, which fails the attempt with the classified error. */
export function startHandshake(ws: WebSocket, reject: (e: ConnectError) => void, timeoutMs: number, timeoutMessage: string, caFile?: string): Handshake {
  let settled = false;
  let lastError = "";
  /** A failed connection is being asked why (whyUnreachable): the close that follows must not settle it first. */
  let diagnosing = false;
  const fail = (e: ConnectError, diagnosed = false) => {
    if (settled || (diagnosing && !diagnosed)) return;
    settled = true;
    clearTimeout(timer);
    try {
      ws.close();
    } catch {}
    reject(e);
  };
  const timer = setTimeout(() => fail(new ConnectError("handshake", timeoutMessage, false)), timeoutMs);
  ws.onerror = (ev) => {
    lastError = (ev as ErrorEvent).message ?? "";
    if (settled || diagnosing) return;
    const e = classifyUpgradeError(lastError, caFile);
    // Bun says "Failed to connect" for a name that does not resolve and a refused port alike; its event's error names
    // the system's code. That code is taken first: the TCP attempt below (node:net) says ECONNREFUSED, "nothing listens
    // on that port", for a network with no route, which a laptop between networks (its address gone) has.
    if (!/failed to connect/i.test(lastError)) return fail(e);
    const said = unreachableWith(ws.url, ((ev as ErrorEvent).error as { code?: unknown } | null | undefined)?.code);
    if (said) return fail(new ConnectError("network", `cannot reach the relay at ${said}`, false));
    diagnosing = true;
    void whyUnreachable(ws.url, Math.min(2_000, timeoutMs)).then(
      (why) => fail(why ? new ConnectError("network", `cannot reach the relay at ${why}`, false) : e, true),
      () => fail(e, true),
    );
  };
  return {
    get settled() {
      return settled;
    },
    get lastError() {
      return lastError;
    },
    upgradeError: () => classifyUpgradeError(lastError, caFile),
    fail,
    succeed() {
      settled = true;
      clearTimeout(timer);
    },
  };
}

export function connect(o: ConnectOptions): Promise<Connection> {
  return new Promise<Connection>((resolve, reject) => {
    let session: Session | null = null;
    let resolveClosed!: (i: SessionCloseInfo) => void;
    const closed = new Promise<SessionCloseInfo>((r) => (resolveClosed = r));
    const ws = openAgentSocket(o.url, o);
    ws.binaryType = "arraybuffer";
    // "resume" only from an agent that holds answers across reconnects.
    const capabilities = o.capabilities ?? (o.resume ? CAPABILITIES : CAPABILITIES.filter((c) => c !== RESUME_CAPABILITY));
    const timeoutMs = o.handshakeTimeoutMs ?? 10_000;
    const hs = startHandshake(ws, reject, timeoutMs, `no answer from the relay within ${timeoutMs} ms`, o.caFile);
    const fail = hs.fail;
    const callOff = () => fail(new ConnectError("network", "the attempt was called off (the tunnel stopped)", false));
    if (o.signal?.aborted) callOff();
    else o.signal?.addEventListener("abort", callOff, { once: true });

    ws.onopen = () => {
      // The agent's resume window goes with "resume": the relay keeps a client waiting no longer than the agent holds its answer.
      const window = o.resume && capabilities.includes(RESUME_CAPABILITY) ? o.resume.limits.windowMs : undefined;
      // Its max_streams too: the relay opens no more streams than the session takes, rather than have them refused.
      ws.send(helloFrame(o.agent, o.version ?? PROTOCOL_VERSION, capabilities, window, o.maxStreams) as Uint8Array<ArrayBuffer>);
    };
    ws.onmessage = (ev) => {
      if (session) {
        // A text message would reach the codec as a string, which `new Uint8Array("3000000000")` reads as a length to
        // allocate: refused by type, with the relay side's code.
        if (typeof ev.data === "string") return session.close("protocol_error", "not_binary: protocol v2 uses binary frames only");
        return session.receive(ev.data as ArrayBuffer);
      }
      if (typeof ev.data === "string") return fail(new ConnectError("protocol_error", "the relay sent a text frame; is this a bridge-v1 server? (set [tunnel] protocol)", false));
      let f;
      try {
        f = decode(ev.data as ArrayBuffer);
      } catch (e) {
        return fail(new ConnectError("protocol_error", `the relay sent a malformed handshake (${(e as ProtocolError).code})`, false));
      }
      const w = readWelcome(f, o.version ?? PROTOCOL_VERSION);
      if (!w.ok) {
        // A GO_AWAY is classified like the WebSocket close that carries the same code.
        if (f.type === "GO_AWAY") return fail(closeError(CLOSE_CODES[w.reason].code, w.message));
        return fail(new ConnectError(w.reason === "incompatible_version" ? "incompatible_version" : "protocol_error", w.message, w.permanent));
      }
      hs.succeed();
      // Both sides must keep answers across a reconnect: an older relay does not list "resume", nor an agent without a registry.
      const resume = o.resume && capabilities.includes(RESUME_CAPABILITY) && w.welcome.capabilities.includes(RESUME_CAPABILITY) ? o.resume : undefined;
      session = new Session({
        role: "agent",
        // Both sides must read BATCH: an older relay does not list it, and then every frame travels alone.
        batch: capabilities.includes(BATCH_CAPABILITY) && w.welcome.capabilities.includes(BATCH_CAPABILITY),
        clock: o.clock,
        heartbeatMs: o.heartbeatMs,
        toleranceMs: o.toleranceMs,
        maxStreams: o.maxStreams,
        stallMs: o.stallMs,
        onStall: o.onStall,
        sink: {
          send: (b) => {
            if (ws.readyState === WebSocket.OPEN) ws.send(b as Uint8Array<ArrayBuffer>);
          },
          backlog: () => ws.bufferedAmount,
          close: (code, reason) => {
            // Clients may only send 1000 or 3000-4999; a dead (half-open) peer never answers the close, so drop the socket too.
            try {
              ws.close(code === 1000 || code >= 3000 ? code : 4000, reason);
            } catch {}
            if (code !== 1000) terminate(ws);
          },
        },
        onStream: (st) => o.onStream(st, resume),
        onResumed: resume && ((id, token, offset, window) => resume.resumed(s, id, token, offset, window)),
        onResumeRefused: resume && ((token, reason) => resume.refused(token, reason)),
        // Make before break: a relay going away (shutdown, a cluster node handing its agents over, an expiring token)
        // gets a new connection at once while this one finishes its in-flight streams.
        onGoAway: (code, reason) => {
          if (code === "normal") resolveClosed({ code, reason: `the relay is going away: ${relayText(reason)}`, remote: true, moving: true });
        },
        // The relay's words reach status and the terminal: shown, not obeyed (relay-text.ts).
        onClose: (info) => resolveClosed({ ...info, reason: relayText(info.reason) }),
      });
      const s: Session = session;
      resume?.attach(s, w.welcome.resumeWindow);
      resolve({ session: s, tunnelId: relayText(w.welcome.tunnelId), closed, activeStreams: () => s.activeStreams, close: (reason) => s.close("normal", reason) });
    };
    ws.onclose = (ev) => {
      if (session) session.transportClosed(`websocket closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ""})`);
      else if (!hs.settled) fail(hs.lastError ? hs.upgradeError() : closeError(ev.code, ev.reason));
    };
  });
}
