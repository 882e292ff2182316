// The one client of the control API, for the CLI, the tray and the dashboard page: paths and replies typed from the app, one error type.
// It runs in Bun and in the browser (no Node imports); where the base URL and the credentials come from is the caller's part.
import type { ApiApp } from "../api/app.ts";
import type { CodeOf } from "../core/error-codes.ts";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Field problems a validation_failed error carries (config edits), with line and column when they come from a file. */
export interface Issue {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/**
 * Every failure of a call: `status` 0 with code `unreachable` when nothing answered, else the HTTP status with the stable
 * code from the API's error body (`unauthorized`, `validation_failed`, …; `unexpected_status` when the body has none).
 * The codes are ERROR_TABLE.ApiError's (src/core/error-codes.ts); a newer daemon may send one this build does not know.
 */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: CodeOf<"ApiError"> | (string & {}),
    message: string,
    readonly issues: Issue[] = [],
    /** The error body as the API sent it (JSON when it was JSON). */
    readonly body: unknown = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get unreachable(): boolean {
    return this.code === "unreachable";
  }
}

// ---- Types from the app (as hono's hc<App>): "/api/v1/tunnel/start" walks Routes.api.v1.tunnel[":action"]; so does the
// route's own pattern "/api/v1/tunnel/:action", whose `params` then fill the path. Each route's schemas (body, query,
// params, response) type the call's `json`, `query`, `params` and reply.
type Routes = ApiApp["~Routes"];
type Segments<P extends string> = P extends `/${infer Head}/${infer Rest}` ? [Head, ...Segments<`/${Rest}`>] : P extends `/${infer Last}` ? (Last extends "" ? [] : [Last]) : [];
type Walk<T, S extends unknown[]> = S extends [infer H extends string, ...infer R]
  ? H extends keyof T
    ? Walk<T[H], R>
    : Extract<keyof T, `:${string}`> extends infer K extends keyof T
      ? [K] extends [never]
        ? never
        : Walk<T[K], R>
      : never
  : T;
type PathOnly<P extends string> = P extends `${infer Path}?${string}` ? Path : P;
/** The route a method and path reach, or never when the app has none. */
export type RouteOf<M extends Method, P extends string> = Walk<Routes, Segments<PathOnly<P>>> extends infer N ? (Lowercase<M> extends keyof N ? N[Lowercase<M>] : never) : never;
/** The body of the route's success reply: its 200, else its 201, else nothing (204). */
export type ReplyOf<M extends Method, P extends string> = RouteOf<M, P> extends { response: infer R }
  ? 200 extends keyof R
    ? R[200]
    : 201 extends keyof R
      ? R[201]
      : 204 extends keyof R
        ? undefined
        : unknown
  : unknown;
/** A path the app serves for this method; any other is a compile error. */
export type KnownPath<M extends Method, P extends string> = [RouteOf<M, P>] extends [never] ? `no ${M} route ${P} in the control API` : P;

export interface ApiClientOptions {
  /** http://127.0.0.1:8765, or "" for the page's own origin. */
  base: string;
  /** The bearer token (CLI, tray); read at each call, so a token file created later is picked up. */
  token?: () => string | null;
  /** The page's CSRF token, sent on every change (the page authenticates with its session cookie). */
  csrf?: string;
  timeoutMs?: number;
  /** Called on any 401 before the error is thrown (the page shows its sign-in hint). */
  onUnauthorized?: (e: ApiError) => void;
  fetch?: typeof fetch;
}

/** Query values: each becomes `name=value` (an array one pair per item); undefined ones are left out. */
export type QueryValue = string | number | boolean | undefined | readonly (string | number | boolean)[];

/** What every call may set besides its inputs. */
export interface BaseOptions {
  text?: string;
  contentType?: string;
  /** Return the body as text instead of JSON. */
  asText?: boolean;
  /** Statuses answered with their body instead of an ApiError (e.g. 422 for a rejected reload). */
  accept?: number[];
  /** Sent as If-Match: the version (ETag) the change is based on; the daemon refuses it (412) when the file moved on. */
  ifMatch?: string | null;
  timeoutMs?: number;
}

/** The untyped options, for `send` (a path only known at run time). */
export interface CallOptions extends BaseOptions {
  json?: unknown;
  query?: Record<string, QueryValue>;
  /** Values for the path's `:name` segments (URL-encoded here). */
  params?: Record<string, string | number>;
}

/** Whether a schema slot declares something: Elysia leaves `unknown` (no schema) or `{}` (nothing to take). */
type Declared<T> = unknown extends T ? false : [keyof T] extends [never] ? false : true;
/** A slot the route declares is typed (required when the schema has a required field); one it does not is refused, except a body without a schema. */
type Slot<K extends string, T, Untyped> = Declared<T> extends true ? ({} extends T ? { [P in K]?: T } : { [P in K]: T }) : { [P in K]?: Untyped };
type RouteSlot<M extends Method, P extends string, K extends string> = RouteOf<M, P> extends infer R ? (K extends keyof R ? R[K] : unknown) : unknown;
/** A path written as the route's pattern ("/api/v1/keys/:name") takes `params` for its segments; a concrete path takes none. */
type IsPattern<P extends string> = PathOnly<P> extends `${string}/:${string}` ? true : false;

/** A typed call's inputs: `json` from the route's body schema, `query` from its query schema, `params` from its path. */
export type Inputs<M extends Method, P extends string> = Slot<"json", RouteSlot<M, P, "body">, unknown extends RouteSlot<M, P, "body"> ? unknown : never> &
  Slot<"query", RouteSlot<M, P, "query">, never> &
  (IsPattern<P> extends true ? { params: RouteSlot<M, P, "params"> } : { params?: never });
export type TypedOptions<M extends Method, P extends string> = BaseOptions & Inputs<M, P>;
/** The options argument: required when an input is (a body with required fields, a pattern's params). */
export type OptionsArg<M extends Method, P extends string> = {} extends Inputs<M, P> ? [opts?: TypedOptions<M, P>] : [opts: TypedOptions<M, P>];

export interface Reply<T> {
  status: number;
  body: T;
  /** The ETag header (the config file's version on the config routes), or null. */
  etag?: string | null;
}

/** Field issues from an error's `details` ([...] or { issues: [...] }). */
export function issuesOf(details: unknown): Issue[] {
  const list = Array.isArray(details) ? details : (details as { issues?: unknown } | null)?.issues;
  if (!Array.isArray(list)) return [];
  return list
    .filter((i): i is Issue => !!i && typeof i === "object" && typeof (i as Issue).message === "string")
    .map((i) => ({ path: i.path ?? "", message: i.message, line: i.line, column: i.column }));
}

export class ApiClient {
  constructor(readonly opts: ApiClientOptions) {}

  get base(): string {
    return this.opts.base.replace(/\/+$/, "");
  }

  /** Calls a route the app declares; its inputs are typed from the route's schemas and the reply from its success response. */
  async call<M extends Method, P extends string>(method: M, path: KnownPath<M, P>, ...[opts]: OptionsArg<M, P>): Promise<ReplyOf<M, P>> {
    return (await this.send(method, path, opts as CallOptions)).body as ReplyOf<M, P>;
  }

  /** Like call(), with the status: for the statuses listed in `accept` the body is the error body. */
  async reply<M extends Method, P extends string>(method: M, path: KnownPath<M, P>, ...[opts]: OptionsArg<M, P>): Promise<Reply<ReplyOf<M, P> | unknown>> {
    return this.send(method, path, opts as CallOptions);
  }

  /** The untyped way, for a path only known at run time. */
  async send(method: string, path: string, opts: CallOptions = {}): Promise<Reply<unknown>> {
    path = withInputs(path, opts);
    const headers: Record<string, string> = { accept: opts.asText ? "*/*" : "application/json" };
    let body: string | undefined;
    if (opts.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.json);
    } else if (opts.text !== undefined) {
      headers["content-type"] = opts.contentType ?? "application/toml";
      body = opts.text;
    }
    const token = this.opts.token?.();
    if (token) headers.authorization = `Bearer ${token}`;
    if (this.opts.csrf !== undefined && method !== "GET" && method !== "HEAD") headers["x-csrf-token"] = this.opts.csrf;
    if (opts.ifMatch) headers["if-match"] = opts.ifMatch;
    const timeout = opts.timeoutMs ?? this.opts.timeoutMs;
    let res: Response;
    try {
      res = await (this.opts.fetch ?? fetch)(this.base + path, {
        method,
        headers,
        body,
        credentials: "same-origin",
        cache: "no-store",
        ...(timeout ? { signal: AbortSignal.timeout(timeout) } : {}),
      });
    } catch (e) {
      throw new ApiError(0, "unreachable", `The daemon is not answering${this.base ? ` at ${this.base}` : ""} (is it running?).`, [], null, { cause: e });
    }
    if (res.ok && opts.asText) return { status: res.status, body: await res.text(), etag: res.headers.get("etag") };
    const text = res.status === 204 ? "" : await res.text();
    let parsed: unknown = text;
    const type = res.headers.get("content-type") ?? "";
    if (text && (type.includes("json") || !res.ok)) {
      try {
        parsed = JSON.parse(text);
      } catch {}
    }
    if (res.status === 204) parsed = undefined;
    if (res.ok || opts.accept?.includes(res.status)) return { status: res.status, body: parsed };
    const err = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
    const e = new ApiError(
      res.status,
      typeof err?.code === "string" ? err.code : res.headers.get("x-c2l-error-code") || "unexpected_status",
      typeof err?.message === "string" ? err.message : `${method} ${path} failed with HTTP ${res.status}.`,
      issuesOf(err?.details),
      parsed,
    );
    if (res.status === 401) this.opts.onUnauthorized?.(e);
    throw e;
  }
}

/** The path with its `:name` segments filled from `params` (URL-encoded) and `query` appended. */
export function withInputs(path: string, opts: Pick<CallOptions, "params" | "query">): string {
  const { params, query } = opts;
  const q0 = path.indexOf("?");
  const [bare, search] = q0 < 0 ? [path, ""] : [path.slice(0, q0), path.slice(q0)];
  let out = bare.replace(/\/:([A-Za-z_]\w*)/g, (_, name: string) => {
    const v = params?.[name];
    if (v === undefined) throw new TypeError(`${path}: no value for the path parameter "${name}"`);
    return "/" + encodeURIComponent(String(v));
  }) + search;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) for (const item of Array.isArray(v) ? v : [v]) if (item !== undefined) q.append(k, String(item));
    const qs = q.toString();
    if (qs) out += (out.includes("?") ? "&" : "?") + qs;
  }
  return out;
}
