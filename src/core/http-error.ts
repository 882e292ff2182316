// The one HTTP error type: a status, a stable machine-readable code and a message, rendered in one place.
import { routeOf } from "./model-routes.ts";
import { sseText } from "./sse-text.ts";
export const ERROR_CODES = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  host_not_allowed: 403,
  origin_not_allowed: 403,
  csrf_failed: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  tunnel_disabled: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
  rate_limited: 429,
  internal: 500,
  no_upstream: 502,
  upstream_error: 502,
  tunnel_offline: 502,
  unavailable: 503,
  tunnel_moving: 503,
  not_ready: 503,
  upstream_timeout: 504,
  disk_full: 507,
  // Not a bug of ours (a read-only disk, permissions): the service cannot do this until the operator fixes it.
  write_failed: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Every rendered error carries its stable code here too, whatever the body's shape: scripts read one header. */
export const ERROR_CODE_HEADER = "x-c2l-error-code";

/**
 * The error shape a caller's client parses. Ollama's clients read `{"error": "<message>"}` (an object there shows as
 * "[object Object]"); OpenAI's read `{"error": {"message", "type", "code"}}`; Anthropic's (on /v1/messages) read
 * `{"type": "error", "error": {"type", "message"}}`; our own APIs (control API, relay admin) answer `{"error": {"code", "message"}}`.
 */
export type Dialect = "ollama" | "openai" | "anthropic" | "native";

/** Whether `path` is `prefix` itself or under it, with or without a query ("/v1", "/v1/x", "/v1?x"). */
const under = (path: string, prefix: string) => {
  // No string built per call: the broker asks this of every request.
  if (!path.startsWith(prefix)) return false;
  const next = path.charCodeAt(prefix.length);
  return Number.isNaN(next) || next === 47 /* / */ || next === 63 /* ? */;
};

/**
 * The dialect of a path on an Ollama/OpenAI-compatible surface (broker, tunnel agent, relay's /t/ID/...): /v1/messages
 * (and under it) is Anthropic's; the rest of /v1/* is OpenAI's; /api/v1/* is our control API's namespace, never
 * Ollama's (a script probing it, say through the tunnel, gets the control API's shape); every other path is Ollama's.
 */
export function dialectOf(raw: string): Dialect {
  // Decided on the route the path names (routeOf: "/V1/%6Dessages" is /v1/messages), as the broker decides what to do
  // with it: a client that spells a route oddly still gets its errors in the shape its SDK reads.
  const path = routeOf(raw);
  if (under(path, "/v1")) return under(path, "/v1/messages") ? "anthropic" : "openai";
  if (under(path, "/api/v1")) return "native";
  return "ollama";
}

/** OpenAI's error object: its clients show `message` and expose `type` and `code` (`param` names a bad field; none here). */
export interface OpenAiError {
  message: string;
  type: string;
  code: ErrorCode;
  param: null;
}

/** OpenAI's error `type` for a status, as its own API sends it (its clients branch on status and show `message`). */
function openAiType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  return status < 500 ? "invalid_request_error" : "server_error";
}

/** Anthropic's error `type` for a status, as its Messages API sends it (its SDK picks the error class by status). */
export function anthropicType(status: number): string {
  return ANTHROPIC_TYPES[status] ?? (status < 500 ? "invalid_request_error" : "api_error");
}
const ANTHROPIC_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  503: "overloaded_error",
  504: "timeout_error",
  529: "overloaded_error",
};

/** Anthropic's error body: its clients show `error.message` and expose `error.type`. */
export interface AnthropicErrorBody {
  type: "error";
  error: { type: string; message: string };
}

/** The longest Retry-After (seconds) a client SDK is left to wait out and retry on its own. */
const SDK_MAX_RETRY_WAIT = 60;

export class HttpError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    status?: number,
  ) {
    super(message);
    this.status = status ?? ERROR_CODES[code];
  }
  toJSON() {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
  /** The native shape `{"error": {"code", "message"}}` (control API, relay admin routes). */
  toResponse(headers?: HeadersInit): Response {
    return this.render("native", headers);
  }
  /** The shape the caller of an Ollama/OpenAI path expects (dialectOf), with the stable code in ERROR_CODE_HEADER. */
  toDialectResponse(path: string, headers?: HeadersInit): Response {
    return this.render(dialectOf(path), headers);
  }
  /** Seconds after which a retry may succeed (429, 503): sent as Retry-After whatever the dialect. */
  retryAfter?: number;
  /** Sets Retry-After (seconds, at least 1) and returns the error, for `throw new HttpError(...).after(s)`. */
  after(seconds: number): this {
    this.retryAfter = Math.max(1, Math.ceil(seconds));
    return this;
  }
  render(dialect: Dialect, headers?: HeadersInit): Response {
    const h = new Headers(headers);
    h.set(ERROR_CODE_HEADER, this.code);
    if (this.retryAfter !== undefined) {
      h.set("retry-after", String(this.retryAfter));
      // The OpenAI and Anthropic SDKs retry a 429/503 by default after the Retry-After they are given, however long: a
      // call refused until 00:00 UTC (a day's budget) would hang for hours, then be retried (older releases retry at
      // once instead, each refused again). Past a minute, this header (both SDKs read it) has them raise the error now.
      if (this.retryAfter > SDK_MAX_RETRY_WAIT) h.set("x-should-retry", "false");
    }
    return Response.json(dialect === "native" ? this.toJSON() : errorBody(dialect, this.code, this.message, this.status), { status: this.status, headers: h });
  }
}

/**
 * The JSON body of an error in Ollama's or OpenAI's shape: an error answer's body, and the payload of the last NDJSON
 * line or SSE event when a stream that already sent 200 fails (its status cannot change any more).
 */
export function errorBody(dialect: "ollama", code: ErrorCode, message: string, status?: number): { error: string };
export function errorBody(dialect: "openai", code: ErrorCode, message: string, status?: number): { error: OpenAiError };
export function errorBody(dialect: "anthropic", code: ErrorCode, message: string, status?: number): AnthropicErrorBody;
export function errorBody(dialect: Exclude<Dialect, "native">, code: ErrorCode, message: string, status?: number): { error: string | OpenAiError } | AnthropicErrorBody;
export function errorBody(dialect: Exclude<Dialect, "native">, code: ErrorCode, message: string, status: number = ERROR_CODES[code]): { error: string | OpenAiError } | AnthropicErrorBody {
  if (dialect === "anthropic") return { type: "error", error: { type: anthropicType(status), message } };
  return dialect === "ollama" ? { error: message } : { error: { message, type: openAiType(status), code, param: null } };
}

/** How a streamed answer is framed, from its content type: an NDJSON or SSE stream can still say why it ends early. */
export type StreamFormat = "ndjson" | "sse" | "other";

export function streamFormat(contentType: string | null): StreamFormat {
  const ct = contentType ?? "";
  return ct.includes("text/event-stream") ? "sse" : ct.includes("ndjson") ? "ndjson" : "other";
}

/**
 * The error event of an SSE stream, by the API the stream answers (its route): each dialect's clients read their own.
 * A chat completions stream's is OpenAI's error body (openai-js raises an event with `error` as an APIError); a
 * Responses stream's is its own `error` event, `{"type":"error","code","message","param"}` as OpenAI documents it
 * (openai-js hands it to the caller as an event of that type, as it does OpenAI's own); a Messages stream's is
 * Anthropic's error body (its SDK raises it as an APIError).
 */
export type SseErrorShape = "chat" | "responses" | "anthropic";
const SSE_ERRORS: Record<SseErrorShape, (code: ErrorCode, message: string, status: number) => object> = {
  chat: (code, message, status) => errorBody("openai", code, message, status),
  responses: (code, message) => ({ type: "error", code, message, param: null }),
  anthropic: (code, message, status) => errorBody("anthropic", code, message, status),
};

/** The SSE error shape of a stream answering `path` (spelled as the broker routes it, routeOf; a query may follow). */
export function sseErrorShape(path: string): SseErrorShape {
  const route = routeOf(path);
  return under(route, "/v1/messages") ? "anthropic" : under(route, "/v1/responses") ? "responses" : "chat";
}

/** The payload of an SSE `error` event in `shape` (sseErrorShape): the one place each dialect's stream error is written. */
export function sseErrorData(shape: SseErrorShape, code: ErrorCode, message: string, status: number = ERROR_CODES[code]): object {
  return SSE_ERRORS[shape](code, message, status);
}

/**
 * The last bytes of a stream that already sent 200 and cannot finish (broker: upstream broke off; relay: the agent went
 * away): an NDJSON error line in Ollama's shape, or an SSE `error` event in the shape of the API `path` names
 * (sseErrorShape). `lastByte` is the last byte already sent (-1: none), so the error starts its own line or event. null
 * for other formats: nothing in-band can say it, the body must fail.
 */
export function streamErrorTail(format: StreamFormat, err: HttpError, lastByte: number, path: string): string | null {
  if (format === "ndjson") return (lastByte === 10 || lastByte < 0 ? "" : "\n") + JSON.stringify(errorBody("ollama", err.code, err.message, err.status)) + "\n";
  if (format === "sse") return (lastByte < 0 ? "" : lastByte === 10 ? "\n" : "\n\n") + sseText("error", sseErrorData(sseErrorShape(path), err.code, err.message, err.status));
  return null;
}

/** An error answer on an Ollama/OpenAI-compatible path, in the caller's dialect (the broker, the agent and the relay's /t/ID/...). */
export function dialectError(path: string, code: ErrorCode, message: string, headers?: HeadersInit): Response {
  return new HttpError(code, message).toDialectResponse(path, headers);
}
