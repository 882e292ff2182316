// The one table of tunnel protocol v2 messages: type id, name, direction, stream scope and payload shape (see docs/protocol.md).

/** Version spoken by this build; peers must agree on it exactly (the handshake refuses anything else). */
export const PROTOCOL_VERSION = 2;
/** WebSocket subprotocol-free framing: 1 byte type, 1 byte flags, 4 bytes stream id (big endian), then the payload. */
export const HEADER_SIZE = 6;
/** Largest payload a frame may carry; anything bigger is a protocol error (bounds memory per frame). */
export const MAX_PAYLOAD = 1 << 20;
/** Payload size senders use for DATA frames (well under MAX_PAYLOAD so control frames interleave). */
export const DATA_CHUNK = 64 * 1024;
/** Credit each side grants per stream when it opens; WINDOW_UPDATE adds more as the reader consumes. */
export const INITIAL_WINDOW = 512 * 1024;
/** Largest JSON head (request/response headers, handshake); bigger heads are refused. */
export const MAX_HEAD = 64 * 1024;
/** Largest stream id; ids are assigned by the relay, odd numbers counting up. */
export const MAX_STREAM_ID = 0xffffffff;

export type Direction = "agent->relay" | "relay->agent" | "both";
/** "control" frames use stream id 0; "stream" frames a non-zero id. */
export type Scope = "control" | "stream";
/** How the payload is encoded: JSON object, raw bytes, a u32, 8 opaque bytes, nothing, or length-prefixed frames. */
export type PayloadKind = "json" | "bytes" | "u32" | "opaque8" | "empty" | "frames";

export interface MessageSpec {
  id: number;
  name: MessageName;
  direction: Direction;
  scope: Scope;
  payload: PayloadKind;
  /** Fields of a JSON payload (documentation and validation of required keys). */
  fields: readonly string[];
}

export const MESSAGES = [
  { id: 0x01, name: "HELLO", direction: "agent->relay", scope: "control", payload: "json", fields: ["version", "capabilities", "agent"] },
  { id: 0x02, name: "WELCOME", direction: "relay->agent", scope: "control", payload: "json", fields: ["version", "capabilities", "tunnelId"] },
  { id: 0x10, name: "REQUEST_HEAD", direction: "relay->agent", scope: "stream", payload: "json", fields: ["method", "path", "headers"] },
  { id: 0x11, name: "RESPONSE_HEAD", direction: "agent->relay", scope: "stream", payload: "json", fields: ["status", "headers"] },
  { id: 0x12, name: "DATA", direction: "both", scope: "stream", payload: "bytes", fields: [] },
  { id: 0x13, name: "END", direction: "both", scope: "stream", payload: "empty", fields: [] },
  { id: 0x14, name: "RESET", direction: "both", scope: "stream", payload: "json", fields: ["code", "reason"] },
  { id: 0x15, name: "WINDOW_UPDATE", direction: "both", scope: "stream", payload: "u32", fields: [] },
  // Only between peers that both listed the "resume" capability (see docs/protocol.md, Resume).
  { id: 0x16, name: "RESUME", direction: "agent->relay", scope: "control", payload: "json", fields: ["token"] },
  { id: 0x17, name: "RESUMED", direction: "relay->agent", scope: "stream", payload: "json", fields: ["token", "offset"] },
  { id: 0x18, name: "RESUME_REFUSED", direction: "relay->agent", scope: "control", payload: "json", fields: ["token", "reason"] },
  { id: 0x20, name: "PING", direction: "both", scope: "control", payload: "opaque8", fields: [] },
  { id: 0x21, name: "PONG", direction: "both", scope: "control", payload: "opaque8", fields: [] },
  { id: 0x22, name: "GO_AWAY", direction: "both", scope: "control", payload: "json", fields: ["code", "reason"] },
  // Only between peers that both listed the "batch" capability; an older peer never receives it.
  { id: 0x30, name: "BATCH", direction: "both", scope: "control", payload: "frames", fields: [] },
] as const satisfies readonly { id: number; name: string; direction: Direction; scope: Scope; payload: PayloadKind; fields: readonly string[] }[];

export type MessageName = (typeof MESSAGES)[number]["name"];

export const BY_ID: ReadonlyMap<number, MessageSpec> = new Map(MESSAGES.map((m) => [m.id, m as MessageSpec]));
export const TYPE: { readonly [K in MessageName]: number } = Object.fromEntries(MESSAGES.map((m) => [m.name, m.id])) as never;

/** Reason codes carried by RESET and GO_AWAY (and WebSocket close reasons). */
export const RESET_CODES = [
  "cancel", // the caller went away
  "refused", // path not allowed, too many streams, going away, a malformed request head or body length
  "internal", // the handler failed
  "flow_control", // the peer sent more than its credit
  "protocol_error",
  "timeout",
  "session_closed",
] as const;
export type ResetCode = (typeof RESET_CODES)[number];

export const GO_AWAY_CODES = [
  "normal", // shutdown or restart
  "replaced", // the same tunnel connected again
  "incompatible_version",
  "unauthorized",
  "protocol_error",
  "heartbeat_timeout",
] as const;
export type GoAwayCode = (typeof GO_AWAY_CODES)[number];

/** Why a connection ends: every GO_AWAY code, and the handshake that never came. */
export type CloseReason = GoAwayCode | "handshake_timeout";

/**
 * The one table of WebSocket close codes, used by both sides: the code each ending is sent with (stable across
 * releases; the reason text starts with the name), and whether the agent should keep reconnecting after it
 * (`permanent`: the same attempt would fail the same way until someone changes something).
 */
export const CLOSE_CODES: { readonly [K in CloseReason]: { code: number; permanent: boolean } } = {
  normal: { code: 1000, permanent: false },
  replaced: { code: 4001, permanent: false },
  incompatible_version: { code: 4002, permanent: true },
  unauthorized: { code: 4003, permanent: true },
  protocol_error: { code: 1002, permanent: false },
  heartbeat_timeout: { code: 4004, permanent: false },
  handshake_timeout: { code: 1008, permanent: false },
};

/** The ending a close carries: by its code, else by the name its reason starts with; null for a code not in the table. */
export function closeReasonOf(code: number, reason = ""): CloseReason | null {
  const byName = (Object.keys(CLOSE_CODES) as CloseReason[]).find((k) => reason === k || reason.startsWith(`${k}:`));
  if (byName) return byName;
  return (Object.keys(CLOSE_CODES) as CloseReason[]).find((k) => CLOSE_CODES[k].code === code && code !== 1000) ?? null;
}

export type HeaderList = [string, string][];

export interface Hello {
  version: number;
  capabilities: string[];
  agent: string;
  /** With "resume": how long (ms) the agent holds an answer whose session was lost; the relay waits no longer. */
  resumeWindow?: number;
  /**
   * The streams the agent takes at once ([tunnel] max_streams), as HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS: the relay
   * opens no more (since 3.4; an older relay's codec drops the field, an older agent names none).
   */
  maxStreams?: number;
}
export interface Welcome {
  version: number;
  capabilities: string[];
  tunnelId: string;
  /** With "resume": how long (ms) the relay keeps a client waiting for a resume; the agent holds an answer no longer. */
  resumeWindow?: number;
}
export interface RequestHead {
  method: string;
  path: string;
  headers: HeaderList;
  /**
   * This stream's initial credit in both directions (bytes, up to INITIAL_WINDOW) in place of INITIAL_WINDOW: the
   * relay's measured window, so a new bulk stream does not put a whole 512 KiB ahead of a chat on a slow link. Only to an
   * agent that listed "window".
   */
  window?: number;
}
export interface ResponseHead {
  status: number;
  headers: HeaderList;
  /** The answer's resume token (both peers listed "resume"): the relay names it to take the stream over after a reconnect. */
  resume?: string;
}
/** The agent offers to resume the answer it holds under `token` (sent after WELCOME, or when a stream's session ended). */
export interface Resume {
  token: string;
  /**
   * Body bytes of the answer the agent had sent when its session ended (absent from an older agent): the relay that
   * takes the answer over from `offset` counts sent − offset as replayed, the agent's own figure.
   */
  sent?: number;
}
/** The relay will never take the answer offered under `token` over (no client waits for it): the agent drops it. */
export interface ResumeRefused {
  token: string;
  reason: string;
}
/** The relay takes an offered answer over on this (new) stream id, from byte `offset` of its body on. */
export interface Resumed {
  token: string;
  offset: number;
  /** The new stream's initial credit both ways, as REQUEST_HEAD.window (only to an agent that listed "window"). */
  window?: number;
}
export interface Reset {
  code: ResetCode;
  reason: string;
}
export interface GoAway {
  code: GoAwayCode;
  reason: string;
}

/** A decoded frame; `stream` is 0 for control frames. */
export type Frame =
  | { type: "HELLO"; stream: 0; body: Hello }
  | { type: "WELCOME"; stream: 0; body: Welcome }
  | { type: "REQUEST_HEAD"; stream: number; body: RequestHead }
  | { type: "RESPONSE_HEAD"; stream: number; body: ResponseHead }
  | { type: "DATA"; stream: number; data: Uint8Array }
  | { type: "END"; stream: number }
  | { type: "RESET"; stream: number; body: Reset }
  | { type: "WINDOW_UPDATE"; stream: number; increment: number }
  | { type: "RESUME"; stream: 0; body: Resume }
  | { type: "RESUMED"; stream: number; body: Resumed }
  | { type: "RESUME_REFUSED"; stream: 0; body: ResumeRefused }
  | { type: "PING"; stream: 0; opaque: Uint8Array }
  | { type: "PONG"; stream: 0; opaque: Uint8Array }
  | { type: "GO_AWAY"; stream: 0; body: GoAway };

/** A frame that may travel inside a BATCH: anything but the handshake and BATCH itself. */
export type BatchableFrame = Exclude<Frame, { type: "HELLO" | "WELCOME" }>;
/** Several frames in one WebSocket message: each as [u32 length][frame], in order (see docs/protocol.md). */
export interface BatchFrame {
  type: "BATCH";
  stream: 0;
  frames: BatchableFrame[];
}
/** What one WebSocket message decodes to. */
export type Message = Frame | BatchFrame;
/** Largest BATCH message a sender builds; bigger frames travel alone. */
export const MAX_BATCH = 64 * 1024;
/** The capability a peer lists when it reads BATCH messages. */
export const BATCH_CAPABILITY = "batch";
/** The capability a peer lists when it keeps answers across a reconnect (RESUME / RESUMED, RESPONSE_HEAD.resume). */
export const RESUME_CAPABILITY = "resume";
/** Largest resume window a peer may announce in HELLO/WELCOME (ms): what a timer can wait. */
export const MAX_RESUME_WINDOW = 2 ** 31 - 1;
/** Largest max_streams an agent may announce in HELLO (stream ids are odd u32s: never more streams than this). */
export const MAX_ANNOUNCED_STREAMS = 2 ** 31 - 1;
/** The capability a peer lists when it reads REQUEST_HEAD.window (a stream's initial credit). */
export const WINDOW_CAPABILITY = "window";
/** A resume token: 22 base64url characters (128 random bits). */
export const RESUME_TOKEN = /^[A-Za-z0-9_-]{22}$/;

/**
 * Capabilities this build offers in HELLO/WELCOME. The version decides compatibility; a capability only lets a peer
 * send what the other said it reads ("batch": BATCH messages, "resume": resumable answers), so older peers, which do not list it, keep working.
 */
export const CAPABILITIES = ["streaming", "flow-control", "cancel", "go-away", BATCH_CAPABILITY, RESUME_CAPABILITY, WINDOW_CAPABILITY];
