// Pipeline stage 1, read: the request as the broker will send it — its body held for failover, the models it names, an
// alias replaced by its model, and an OpenAI stream asked for its usage.
import { withModel } from "../aliases.ts";
import { dialectBodyProblem } from "../dialects/body-check.ts";
import { GENERATION_PATHS, type Exchange } from "../exchange.ts";
import { requestModels } from "../model-fields.ts";
import type { ReplayBudget } from "../replay-budget.ts";
import { BUFFER_LIMIT, readRoutingBody, type RoutingBody } from "../request-body.ts";
import { usagePlan, UsageStripper, USAGE_STREAM_PATHS } from "../sse-usage.ts";
import { errorAnswer, refusalAnswer } from "./answer-error.ts";
import { unframedBody, unframedMessage } from "../../core/request-checks.ts";
import { HttpError } from "../../core/http-error.ts";

/**
 * The read stage in three steps, so the driver awaits the body itself (no async frame of its own per request):
 * unframedRefusal() refuses a body without framing, readBody() reads it, and takeRequest() fills the Exchange's
 * payload, model, aliasOf, named and sseStream from it. Each returns an error answer when the request cannot be read
 * (nothing is recorded: no upstream was asked). Aliases come from the request's own table.
 */
export async function readRequest(ex: Exchange, req: Request, replay: ReplayBudget): Promise<Response | null> {
  return unframedRefusal(ex, req) ?? takeRequest(ex, await readBody(ex, req, replay));
}

/**
 * TRACE and CONNECT never go upstream (the agent refuses them through the tunnel too, src/tunnel/filter.ts): a server
 * that echoes TRACE (Apache's default TraceEnable) would show the caller the credential the broker adds for the upstream.
 */
export function methodRefusal(ex: Exchange): Response | null {
  const m = ex.method;
  if (m !== "TRACE" && m !== "CONNECT") return null;
  ex.discard();
  return refusalAnswer(ex, new HttpError("method_not_allowed", `${m} is not allowed through the broker`));
}

export function unframedRefusal(ex: Exchange, req: Request): Response | null {
  // Tunnel requests carry their body in the stream: the relay made this check (src/relay/routes.ts).
  if (ex.source !== "local" || !unframedBody(req)) return null;
  // HTTP/1.x has no close-delimited request bodies: bytes sent without a length are not a body, and forwarding an
  // empty one would get a misleading answer (e.g. "model not found") from whichever upstream is first.
  ex.discard();
  return refusalAnswer(ex, new HttpError("bad_request", unframedMessage(ex.method)));
}

/** The body, read for routing (request-body.ts); null when the client went away while sending it. */
export function readBody(ex: Exchange, req: Request, replay: ReplayBudget): Promise<RoutingBody | null> {
  return readRoutingBody(req, ex.path, BUFFER_LIMIT, replay);
}

export function takeRequest(ex: Exchange, read: RoutingBody | null): Response | null {
  const method = ex.method;
  // The broker's own time is what it spends between having the client's body and sending it upstream; the request's
  // clock (ttfb, duration) starts here too, so an upload's time is not charged to the upstream.
  ex.started = ex.bodyRead = performance.now();
  if (read === null) {
    ex.discard();
    return errorAnswer(ex, "bad_request", "the client went away while sending the request body");
  }
  ex.holdBody(read.release);
  let payload = read.body;
  let bodyLength = read.bodyLength;
  ex.retryable = read.retryable;
  ex.bytesIn = read.bytesIn;
  ex.bodyCut = read.cut;
  // The models the body names, read as the upstream reads them (top-level keys, escapes, case, duplicates refused), on
  // the route the upstream will serve (an escaped spelling of a path is the same route).
  const route = ex.route!;
  const bad = dialectBodyProblem(method, route, ex.requestHeaders, read.head, bodyLength);
  if (bad !== null) {
    ex.discard();
    return refusalAnswer(ex, bad);
  }
  try {
    // On a generation route, with the fields that decide how the answer is read and counted and what the request holds
    // of a key's budget: one reading for every upstream, or a 400 (generation-fields.ts).
    ex.named = requestModels(route, read.head, payload === null || payload === read.head, GENERATION_PATHS.has(route));
  } catch (e) {
    ex.discard();
    return refusalAnswer(ex, e);
  }
  const requested = ex.named.model ?? null;
  // An alias routes, and asks the upstream, for the model it stands for (a body held in memory is rewritten; one too
  // large to hold is sent as it is). It stands in the "model" field only: that is the one withModel writes.
  const alias = requested !== null && ex.named.field === "model" ? ex.table!.aliases.get(requested) : undefined;
  if (alias) {
    ex.model = alias.model;
    ex.aliasOf = requested;
    if (payload instanceof Uint8Array) {
      payload = withModel(payload, alias.model);
      bodyLength = payload.byteLength;
    }
  } else ex.model = requested;
  // An OpenAI stream reports its tokens only when asked: ask, and take the extra event out unless the client asked too.
  if (payload instanceof Uint8Array && method === "POST" && USAGE_STREAM_PATHS.has(route)) {
    let plan;
    try {
      plan = usagePlan(payload);
    } catch (e) {
      ex.discard();
      return refusalAnswer(ex, e);
    }
    ex.sseStream = plan.streaming;
    if (plan.withUsage) {
      payload = plan.withUsage;
      bodyLength = payload.byteLength;
      ex.stripper = new UsageStripper();
    }
  }
  ex.payload = payload;
  ex.payloadLength = bodyLength;
  return null;
}
