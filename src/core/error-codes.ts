// The one table of stable error codes: every error class's codes, what each means, and the HTTP code or CLI exit code it becomes where it crosses one.
import { ERROR_CODES, HttpError, type ErrorCode } from "./http-error.ts";

/** CLI exit codes: 0 done, 1 a failure the message explains, 2 wrong arguments or an invalid file. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface CodeInfo {
  /** What happened, in one phrase (docs/errors.md has the table for people). */
  meaning: string;
  /** The HttpError code (ERROR_CODES, hence its status) it becomes when it reaches a control API answer. */
  http?: ErrorCode;
  /** The exit code when it ends a CLI command (main.ts prints the code beside the message). */
  exit?: number;
}

/** HttpError's codes are ERROR_CODES (docs/errors.md, "The codes"); the API client's ApiError carries them too. */
const HTTP = Object.fromEntries(Object.keys(ERROR_CODES).map((c) => [c, { meaning: `HTTP ${ERROR_CODES[c as ErrorCode]} answer`, http: c, exit: EXIT_FAILURE }])) as {
  [K in ErrorCode]: { meaning: string; http: K; exit: number };
};

/**
 * Class name → its codes. Each class sets `name` to its class name, so `codeInfo` finds its row without importing it
 * (this file sits below every feature). tests/foundation/error-codes.test.ts fails for an `extends Error` class in
 * src that is missing here, and checks each class's `code` type against its row.
 */
export const ERROR_TABLE = {
  HttpError: HTTP,
  ApiError: {
    ...HTTP,
    unreachable: { meaning: "nothing answered at the control API's address (status 0)", exit: EXIT_FAILURE },
    unexpected_status: { meaning: "an error status whose body names no code", exit: EXIT_FAILURE },
    foreign_listener: { meaning: "another user's program listens at the control API's address; the token was not sent", exit: EXIT_FAILURE },
  },
  UsageError: { usage: { meaning: "wrong arguments or an invalid file", exit: EXIT_USAGE } },
  CliError: {
    failed: { meaning: "a command failed; the message says why and what to do", exit: EXIT_FAILURE },
    daemon_unreachable: { meaning: "the daemon's control API is not answering (is it running?)", exit: EXIT_FAILURE },
    daemon_unauthorized: { meaning: "the daemon refused the API token, or there is none", exit: EXIT_FAILURE },
    daemon_refused: { meaning: "the daemon answered the call with an error", exit: EXIT_FAILURE },
    daemon_other_config: { meaning: "the daemon at [api] listen serves another config file (or does not say which); nothing was asked of it", exit: EXIT_FAILURE },
  },
  CaFileError: { ca_file_unreadable: { meaning: "[tunnel] ca_file cannot be read", exit: EXIT_FAILURE } },
  KeyStoreError: {
    keys_file_invalid: { meaning: "the gateway keys file is not valid JSON or not a keys file; the keys read before stay in force", http: "conflict", exit: EXIT_FAILURE },
    key_exists: { meaning: "a key with this name exists already", http: "conflict", exit: EXIT_FAILURE },
  },
  DiskFullError: { disk_full: { meaning: "a write failed for lack of disk space or quota; the file was left as it was", http: "disk_full", exit: EXIT_FAILURE } },
  FileWriteError: { write_failed: { meaning: "a write failed for another reason the system named (read-only file system, permissions, a directory in the way); the file was left as it was", http: "write_failed", exit: EXIT_FAILURE } },
  BackupNotFoundError: { backup_not_found: { meaning: "no config backup with this id", http: "not_found", exit: EXIT_FAILURE } },
  AuthNotConfiguredError: { auth_not_configured: { meaning: "sign-in needs [auth] issuer and client_id", http: "conflict", exit: EXIT_FAILURE } },
  SignInNotStorableError: { tokens_not_storable: { meaning: "a sign-in was refused before it started: its tokens could not be stored (a locked keyring)", http: "unavailable", exit: EXIT_FAILURE } },
  KeyringLockedError: { keyring_locked: { meaning: "the desktop keyring is locked", http: "unavailable", exit: EXIT_FAILURE } },
  NoSecretServiceError: { no_secret_service: { meaning: "no usable Secret Service on the session bus", http: "unavailable", exit: EXIT_FAILURE } },
  ListenError: { listen_failed: { meaning: "a listener cannot bind its address (the field and the system's reason are in the error)", exit: EXIT_FAILURE } },
  // Tunnel protocol v2: RESET / GO_AWAY reason codes (RESET_CODES, on the wire) a stream ends with.
  StreamError: {
    cancel: { meaning: "the caller went away" },
    refused: { meaning: "the peer refused the stream (path not allowed, too many streams, going away)" },
    internal: { meaning: "the peer's handler failed" },
    flow_control: { meaning: "the peer sent more than its credit" },
    protocol_error: { meaning: "the peer broke the protocol" },
    timeout: { meaning: "no response head within the first-byte timeout" },
    session_closed: { meaning: "the tunnel connection closed" },
  },
  // A tunnel frame that breaks the protocol, malformed or one of a flood (the session closes with protocol_error).
  ProtocolError: {
    short_frame: { meaning: "a frame shorter than its header" },
    frame_too_large: { meaning: "a frame over the size limit" },
    unknown_type: { meaning: "a frame type this version does not know" },
    bad_flags: { meaning: "flags not allowed on this frame type" },
    bad_stream_id: { meaning: "a stream id not allowed here" },
    bad_payload: { meaning: "a payload that does not decode" },
    not_binary: { meaning: "a text WebSocket message" },
    unexpected_frame: { meaning: "a frame not allowed in this state" },
    flow_control: { meaning: "more data than the window allows" },
    flood: { meaning: "more frames that carry nothing (PINGs, frames for streams not open, streams reset before their answer) than the session's budget" },
  },
  // Why a tunnel connection attempt failed: `status`'s lastErrorCode; permanent ones stop the retries.
  ConnectError: {
    unauthorized: { meaning: "the relay refused the agent token (401)" },
    forbidden: { meaning: "the relay refused this agent (403)" },
    not_found: { meaning: "no agent endpoint at the relay URL (404)" },
    incompatible_version: { meaning: "the relay does not speak our protocol version" },
    http_error: { meaning: "another HTTP status instead of a WebSocket upgrade" },
    network: { meaning: "the relay cannot be reached, or its TLS certificate was refused" },
    handshake: { meaning: "the connection closed during the handshake" },
    protocol_error: { meaning: "the relay sent a malformed handshake or broke the protocol" },
    no_token: { meaning: "no agent token (none configured, or an expired one not refreshed yet)" },
    signed_out: { meaning: "signed out: the tunnel waits for a sign-in" },
    login_required: { meaning: "the session ended: sign in again" },
    config: { meaning: "the tunnel's configuration cannot be used (e.g. ca_file unreadable)" },
  },
  RedisDown: { redis_down: { meaning: "Redis is unreachable: cluster commands fail at once instead of queueing" } },
  RedisTimeoutError: { redis_timeout: { meaning: "a Redis command did not answer within its timeout" } },
  HopBodyError: { hop_body_refused: { meaning: "a request body forwarded between relay nodes failed its signature or framing" } },
  HttpParseError: { upstream_bad_http: { meaning: "an upstream sent a malformed HTTP/1.1 response" } },
  UpstreamConnError: { upstream_connection: { meaning: "the broker's connection to an upstream failed (errno says how: refused, timed out, reset, closed)" } },
  // D-Bus (the tray, the keyring): a peer's error reply, and bytes that break the specification (the connection closes).
  DBusError: { dbus_error: { meaning: "a D-Bus peer answered a call with an error (its D-Bus error name is in the message's `type`)" } },
  DBusProtocolError: { dbus_malformed: { meaning: "the D-Bus bus sent bytes that break the D-Bus specification; that connection is closed" } },
} satisfies Record<string, Record<string, CodeInfo>>;

export type ErrorFamily = keyof typeof ERROR_TABLE;
/** The codes an error class may carry: `readonly code: CodeOf<"KeyStoreError">`. */
export type CodeOf<F extends ErrorFamily> = keyof (typeof ERROR_TABLE)[F] & string;

/** The table's row for an error (by its `name` and `code`), or undefined for an error outside the table. */
export function codeInfo(e: unknown): (CodeInfo & { family: ErrorFamily; code: string }) | undefined {
  if (!(e instanceof Error)) return undefined;
  const family = (e instanceof HttpError ? "HttpError" : e.name) as ErrorFamily;
  const code = (e as { code?: unknown }).code;
  if (!Object.hasOwn(ERROR_TABLE, family) || typeof code !== "string") return undefined;
  const rows = ERROR_TABLE[family] as Record<string, CodeInfo>;
  return Object.hasOwn(rows, code) ? { family, code, ...rows[code]! } : undefined;
}

/** An error of the table as the control API's HttpError (its `http` code), or undefined when it has none. */
export function httpErrorOf(e: unknown, details?: unknown): HttpError | undefined {
  const info = codeInfo(e);
  return info?.http ? new HttpError(info.http, (e as Error).message, details) : undefined;
}
