// The one way the pipeline answers with an error: in the request's dialect, decided once from its route.
//
// Every stage that ends a request with an error (a bad body, a key over its limits, no upstream, every attempt failed)
// answers through errorAnswer or refusalAnswer, in the dialect the pipeline chose for the request when it started
// (requestDialect, stored on the Exchange), so no stage decides a shape from the path on its own. What is recorded for
// the request (Exchange.fail, discard) is the stage's business; the shape of the answer is this file's.
import { dialectOf, HttpError, type Dialect, type ErrorCode } from "../../core/http-error.ts";
import type { Exchange } from "../exchange.ts";
import { countRefusal } from "../refusal-metrics.ts";
import { nameRequest } from "./request-id.ts";

/** The dialect of the client that sent a request on `route` (routeOf of its path: an escaped spelling is the same route). */
export function requestDialect(route: string): Dialect {
  return dialectOf(route);
}

/** An error answer composed by the broker, in the request's dialect (with the stable code in x-c2l-error-code). */
export function errorAnswer(ex: Exchange, code: ErrorCode, message: string): Response {
  return named(ex, new HttpError(code, message).render(ex.dialect));
}

/** The answer with the request's id in the dialect's header (request-id.ts): an SDK's error names it too. */
function named(ex: Exchange, res: Response): Response {
  nameRequest(ex, res.headers);
  return res;
}

/**
 * A refusal thrown as an HttpError (the key's limits, the queue full or timed out, a plan that cannot send the request),
 * answered in the request's dialect with its headers (Retry-After); anything else is a bug and is thrown on.
 */
export function refusalAnswer(ex: Exchange, e: unknown): Response {
  countRefusal(e);
  if (e instanceof HttpError) return named(ex, e.render(ex.dialect));
  throw e;
}

/** The client went away before an answer: nothing to render (the status is for the record and the listener). */
export const clientClosed = (): Response => new Response(null, { status: 499 });
