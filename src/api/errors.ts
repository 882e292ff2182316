// The one mapping from anything thrown in the API to `{ "error": { "code", "message" } }` with a stable code and status.
import { diskFull, FileWriteError } from "../config/atomic-write.ts";
import { httpErrorOf } from "../core/error-codes.ts";
import { HttpError } from "../core/http-error.ts";
import { logger } from "../core/log.ts";
import { RepeatLimit } from "../core/repeat-limit.ts";
import { descriptorShortage, outOfDescriptors } from "../core/fd-exhaustion.ts";
import { legacyRouteHint } from "./legacy-routes.ts";
import { bareTargetProblem, lacksHost } from "../core/request-checks.ts";
import { urlPath } from "../core/url-path.ts";

const log = logger("api");
/** A client (a dashboard, a script) retrying a write on a full disk: one line per file and cause per 10 s, not one per try. */
const writeLines = new RepeatLimit();
/** One cause (the file limit reached) fails every request at once: one line per message per 10 s, not one per request. */
const failureLines = new RepeatLimit();

interface ValidationLike {
  type?: string;
  value?: unknown;
  all?: { path?: string; message?: string; summary?: string }[];
  message?: string;
}

/** "/upstreams/0/url" → "upstreams[0].url" (the form config issues use too). */
export function fieldPath(pointer: string): string {
  return pointer
    .split("/")
    .filter(Boolean)
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), "");
}

/**
 * Elysia validates coerced query numbers one property at a time and loses the property's name ("on": "property");
 * the name is recovered from the query parameter that holds the rejected value.
 */
function propertyName(err: ValidationLike, url: string): string {
  const params = new URL(url).searchParams;
  for (const [k, v] of params) if (v === String(err.value)) return `query.${k}`;
  return "query";
}

/** A coerced number is a union of its string and number forms, which TypeBox names alike ("one of: 'integer', 'integer'"). */
const oneBranch = (message: string) => message.replace(/should be one of: ('[^']+')(?:, \1)+$/, "should be $1");

function validationError(err: ValidationLike, url: string): HttpError {
  const where = err.type === "property" ? propertyName(err, url) : (err.type ?? "request");
  const seen = new Set<string>();
  const details: { path: string; message: string }[] = [];
  for (const e of err.all ?? []) {
    const path = [where, fieldPath(e.path ?? "")].filter(Boolean).join(".");
    if (seen.has(path)) continue; // TypeBox reports a union failure once per branch; the first message is the useful one
    seen.add(path);
    details.push({ path, message: oneBranch(e.summary || e.message || "is invalid") });
  }
  const first = details[0];
  return new HttpError("validation_failed", first ? `${first.path}: ${first.message}` : `the ${where} is invalid`, details);
}

/** Elysia's onError handler body: `code` is Elysia's error kind, `error` what was thrown. */
export function toHttpError(code: string | number, error: unknown, request: Request): HttpError {
  // HTTP/1.0 without Host (or a Host Bun could not use): the URL is a bare path that nothing can parse (the Host check, the
  // router); whatever that broke, it is the caller's to fix.
  if (lacksHost(request)) return new HttpError("bad_request", bareTargetProblem(request));
  if (error instanceof HttpError) return error;
  // Elysia wraps what a body parser throws (our 413/415/400) in a ParseError; the original is its cause.
  const cause = (error as { cause?: unknown })?.cause;
  if (cause instanceof HttpError) return cause;
  // A failed write (config, backup, token, keys): a full disk 507, a read-only one or permissions 503, naming the file, which was left as it was.
  const failed = error instanceof FileWriteError ? error : diskFull(error, (error as NodeJS.ErrnoException | undefined)?.path ?? "a file");
  if (failed) {
    // Not a bug of ours, but the operator's to fix (free space, a read-only mount): one line in the log says so too.
    const line = writeLines.note(failed.message);
    if (line.write) log.warn("a file could not be written; the request was refused", { method: request.method, path: urlPath(request.url), error: failed, repeated: line.repeated || undefined });
    return new HttpError(failed.code, failed.message, { file: failed.file });
  }
  // Out of file descriptors (a file read, a module loaded at the file limit): a 503 to retry, not a 500 that reads as a bug.
  const fds = outOfDescriptors(error);
  if (fds) {
    const line = failureLines.note(error instanceof Error ? error.message : String(error));
    if (line.write) log.warn("out of file descriptors; the request was refused", { method: request.method, path: urlPath(request.url), error, repeated: line.repeated || undefined });
    return new HttpError("unavailable", descriptorShortage(fds)).after(1);
  }
  // Every other error with a row in the table of stable codes (a broken keys file, an unknown backup) becomes its HTTP code.
  const known = httpErrorOf(error);
  if (known) return known;
  const method = request.method;
  const path = urlPath(request.url);
  switch (code) {
    case "VALIDATION":
      return validationError(error as ValidationLike, request.url);
    case "NOT_FOUND":
      return new HttpError("not_found", `no route ${method} ${path}${legacyRouteHint(path)}`);
    case "PARSE":
      return new HttpError("bad_request", `the request body could not be parsed: ${(cause as Error)?.message ?? "invalid"}`);
    case "INVALID_COOKIE_SIGNATURE":
      return new HttpError("unauthorized", "the session cookie is invalid");
  }
  // Elysia's status() helpers and 4xx errors carry their own status.
  const status = (error as { status?: number; code?: number })?.status;
  if (typeof status === "number" && status >= 400 && status < 500)
    return new HttpError("bad_request", (error as Error).message || "bad request", undefined, status);
  const line = failureLines.note(error instanceof Error ? error.message : String(error));
  if (line.write) log.error("request failed", { method, path, error, repeated: line.repeated || undefined });
  return new HttpError("internal", "internal error; the daemon log has the details");
}
