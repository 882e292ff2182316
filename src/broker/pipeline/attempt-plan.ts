// The per-attempt hook: how one request is sent to one chosen upstream and how its reply comes back (a dialect's plan).
//
// The attempt stage (attempt.ts) asks planFor(ex, u) for a plan before each attempt, so each upstream tried during
// failover may get its own (chosen by the request's dialect and that upstream's kind):
//
//   request(ex, u, req)  before sending: returns the UpstreamRequest to send — `req` itself (target = path + query,
//                        body = the payload with alias, usage ask and keep_alive applied), or a new one with another
//                        target, body and bodyLength (say Anthropic /v1/messages rewritten to /v1/chat/completions).
//                        Throwing an HttpError ends the request with that error, in its dialect, without failover.
//   reply(ex, u, res)    once headers arrived and the reply is the client's (after failover declined it): returns the
//                        UpstreamReply to relay — `res` itself, or a wrapper whose status, header(), clientHeaders(),
//                        bytes() and read() translate the upstream's (the Exchange relays, counts and captures what the
//                        wrapper yields, and frames a mid-stream error by its content-type).
//
// The identity plan (every request today) allocates nothing. A plan must keep the request's signal: cancellation
// reaches the upstream through it.
import type { Exchange } from "../exchange.ts";
import type { UpstreamReply, UpstreamRequest } from "../upstream-client.ts";
import type { Upstream } from "../upstream.ts";
import { dialectAttempt } from "./dialect-attempt.ts";

export interface AttemptPlan {
  request(ex: Exchange, u: Upstream, req: UpstreamRequest): UpstreamRequest;
  reply(ex: Exchange, u: Upstream, res: UpstreamReply): UpstreamReply;
}

/** Sends the request as the client sent it and relays the reply as the upstream sent it. */
export const IDENTITY_PLAN: AttemptPlan = {
  request: (_ex, _u, req) => req,
  reply: (_ex, _u, res) => res,
};

/** The plan for this request on this upstream; one place to choose by the request's dialect and the upstream's kind. */
export function planFor(ex: Exchange, _u: Upstream): AttemptPlan {
  return ex.dialectPlan === null ? IDENTITY_PLAN : dialectAttempt(ex.dialectPlan);
}
