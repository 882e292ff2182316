// The page's one way to call the control API: same origin, session cookie, CSRF header on changes, JSON errors as ApiError.
export interface Issue {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: Issue[] = [],
  ) {
    super(message);
  }
}

const csrf = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";

/** Called when the API says the session is gone (cookie expired or the daemon restarted). */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

export interface CallOptions {
  json?: unknown;
  text?: string;
  contentType?: string;
  /** Return the body as text instead of JSON. */
  asText?: boolean;
}

export function issuesOf(details: unknown): Issue[] {
  const list = Array.isArray(details) ? details : (details as { issues?: unknown } | null)?.issues;
  if (!Array.isArray(list)) return [];
  return list
    .filter((i): i is Issue => !!i && typeof i === "object" && typeof (i as Issue).message === "string")
    .map((i) => ({ path: i.path ?? "", message: i.message, line: i.line, column: i.column }));
}

export async function call<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: opts.asText ? "*/*" : "application/json" };
  let body: string | undefined;
  if (opts.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(opts.json);
  } else if (opts.text !== undefined) {
    headers["content-type"] = opts.contentType ?? "application/toml";
    body = opts.text;
  }
  if (method !== "GET" && method !== "HEAD") headers["x-csrf-token"] = csrf;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, credentials: "same-origin", cache: "no-store" });
  } catch {
    throw new ApiError(0, "unreachable", "The daemon is not answering (is it running?).");
  }
  if (!res.ok) {
    let code = "http_" + res.status;
    let message = `${method} ${path} failed with HTTP ${res.status}.`;
    let issues: Issue[] = [];
    try {
      const j = (await res.json()) as { error?: { code?: string; message?: string; details?: unknown } };
      if (j.error?.code) code = j.error.code;
      if (j.error?.message) message = j.error.message;
      issues = issuesOf(j.error?.details);
    } catch {}
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, code, message, issues);
  }
  if (opts.asText) return (await res.text()) as T;
  if (res.status === 204) return undefined as T;
  const type = res.headers.get("content-type") ?? "";
  return (type.includes("json") ? await res.json() : await res.text()) as T;
}
