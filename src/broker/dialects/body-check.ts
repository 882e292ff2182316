// What the dialect routes (/v1/messages, count_tokens, /v1/responses) require of a request body before anything else.
//
// The broker reads these bodies itself — to route by model, to translate for an upstream without the route, to count
// the prompt — so it refuses, in the caller's dialect, what it cannot read the same way for every upstream: a body it
// would have to decode (Content-Encoding: a native upstream may decode it, the translation would not), an empty one,
// and one that is not a JSON object (which a native upstream would answer in its own words and a translation in ours).
import { HttpError } from "../../core/http-error.ts";
import { valueStart } from "../json-top-level.ts";
import { DIALECT_ROUTES } from "./plan.ts";

/** Whether the first byte past a UTF-8 BOM and JSON white space opens an object (as readTopLevel and the translation read it). */
function opensObject(head: Uint8Array): boolean {
  return head[valueStart(head)] === 0x7b;
}

/**
 * The refusal of a POST body on a dialect route (`route`: routeOf of its path), or null when it may go on. `head`: the
 * body's bytes in memory (all of them, or the start of one too large to hold); `length`: its length, -1 unknown.
 */
export function dialectBodyProblem(method: string, route: string, headers: Headers | null, head: Uint8Array | null, length: number): HttpError | null {
  if (method !== "POST" || !DIALECT_ROUTES.includes(route)) return null;
  const ce = headers?.get("content-encoding")?.trim();
  if (ce && ce.toLowerCase() !== "identity")
    return new HttpError("unsupported_media_type", `the request body is sent with Content-Encoding: ${ce}; the broker reads the body of ${route} itself (to route, translate and count it) and does not decode it, so send it uncompressed`);
  if ((head === null || head.byteLength === 0) && length <= 0) return new HttpError("bad_request", `the request body is empty; ${route} takes a JSON object`);
  if (head !== null && head.byteLength > 0 && !opensObject(head)) return new HttpError("bad_request", `the request body is not a JSON object; ${route} takes one`);
  return null;
}
