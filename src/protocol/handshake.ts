// The handshake, written once for both sides: the agent's HELLO, the relay's check of it and its WELCOME (or refusal),
// and the agent's check of the answer. Pure: frames in, frames and verdicts out; the sockets stay with the callers.
import { encode, tryDecode } from "./codec.ts";
import { CAPABILITIES, CLOSE_CODES, PROTOCOL_VERSION, type CloseReason, type Frame, type Hello, type Welcome } from "./messages.ts";

/**
 * The agent's first frame; `resumeWindow` (ms) when it lists "resume" (docs/protocol.md, Resume, rule 6); `maxStreams`,
 * the streams it takes at once, which the relay then opens no more of (docs/protocol.md, Streams).
 */
export function helloFrame(agent: string, version = PROTOCOL_VERSION, capabilities: readonly string[] = CAPABILITIES, resumeWindow?: number, maxStreams?: number): Uint8Array {
  return encode({
    type: "HELLO",
    stream: 0,
    body: { version, capabilities: [...capabilities], agent, ...(resumeWindow !== undefined ? { resumeWindow } : {}), ...(maxStreams !== undefined ? { maxStreams } : {}) },
  });
}

/** The relay's answer to an accepted HELLO; `resumeWindow` (ms) when it lists "resume". */
export function welcomeFrame(tunnelId: string, capabilities: readonly string[] = CAPABILITIES, resumeWindow?: number): Frame {
  return { type: "WELCOME", stream: 0, body: { version: PROTOCOL_VERSION, capabilities: [...capabilities], tunnelId, ...(resumeWindow !== undefined ? { resumeWindow } : {}) } };
}

/**
 * The resume window both sides use for a session: the shorter of the two announced (an answer one side gave up on is
 * not waited for by the other). A peer that announced none (an older release) leaves ours.
 */
export function agreedResumeWindow(ours: number, theirs: number | undefined): number {
  return theirs === undefined ? ours : Math.min(ours, theirs);
}

/** How the relay ends a refused handshake: the close code and reason, and a GO_AWAY to send first when there is one. */
export interface Refusal {
  reason: CloseReason;
  /** What went wrong, for the log and metrics ("unexpected_frame", a codec error code, "incompatible_version"). */
  detail: string;
  close: { code: number; text: string };
  goAway: Uint8Array | null;
}

const closeText = (reason: CloseReason, message: string) => `${reason}: ${message}`.slice(0, 120);

/** The relay's check of the agent's first frame: its HELLO, or how to refuse it. */
export function acceptHello(bytes: Uint8Array): { ok: true; hello: Hello } | { ok: false; refusal: Refusal } {
  const r = tryDecode(bytes);
  if (!r.ok || r.frame.type !== "HELLO") {
    const detail = r.ok ? "unexpected_frame" : r.error.code;
    return { ok: false, refusal: { reason: "protocol_error", detail, close: { code: CLOSE_CODES.protocol_error.code, text: closeText("protocol_error", `${detail}: expected HELLO`) }, goAway: null } };
  }
  const hello = r.frame.body;
  if (hello.version !== PROTOCOL_VERSION) {
    const message = `the relay speaks tunnel protocol ${PROTOCOL_VERSION} but the agent sent version ${hello.version}; upgrade the older side`;
    return {
      ok: false,
      refusal: {
        reason: "incompatible_version",
        detail: message,
        close: { code: CLOSE_CODES.incompatible_version.code, text: closeText("incompatible_version", message) },
        goAway: encode({ type: "GO_AWAY", stream: 0, body: { code: "incompatible_version", reason: message } }),
      },
    };
  }
  return { ok: true, hello };
}

/** The agent's reading of the relay's answer: WELCOME, or why not (the ending and whether retrying can help). */
export function readWelcome(
  f: Frame,
  version = PROTOCOL_VERSION,
): { ok: true; welcome: Welcome } | { ok: false; reason: CloseReason; message: string; permanent: boolean } {
  if (f.type === "GO_AWAY") return { ok: false, reason: f.body.code, message: `${f.body.code}: ${f.body.reason}`, permanent: CLOSE_CODES[f.body.code].permanent };
  if (f.type !== "WELCOME") return { ok: false, reason: "protocol_error", message: `the relay sent ${f.type} before WELCOME`, permanent: false };
  if (f.body.version !== version) return { ok: false, reason: "incompatible_version", message: `the relay speaks protocol ${f.body.version}, this agent ${version}`, permanent: true };
  return { ok: true, welcome: f.body };
}

/** The relay's close for an agent that never said HELLO. */
export const HANDSHAKE_TIMEOUT_CLOSE = { code: CLOSE_CODES.handshake_timeout.code, text: "handshake_timeout: no HELLO in time" };
