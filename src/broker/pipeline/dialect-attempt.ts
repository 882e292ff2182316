// The attempt plan of a request with a dialect plan: each upstream's request native or translated, and its reply through
// the answer plan (the body transform becomes the Exchange's, so relaying and usage go through it).
import type { DialectAttempt, DialectPlan } from "../dialects/plan-types.ts";
import { TransformedReply } from "../dialects/transformed-reply.ts";
import type { Exchange } from "../exchange.ts";
import type { UpstreamReply, UpstreamRequest } from "../upstream-client.ts";
import type { Upstream } from "../upstream.ts";
import { asideRead } from "./aside-read.ts";
import { HttpError } from "../../core/http-error.ts";
import { decodedErrorReply, decodedWholeReply, isEncoded } from "../encoded-error.ts";

/** One attempt's plan (attempt-plan.ts's AttemptPlan): made per attempt, so each upstream gets its own rewrite. */
export function dialectAttempt(plan: DialectPlan) {
  let sent: DialectAttempt | null = null;
  let aside: Promise<unknown> | null = null;
  return {
    request(ex: Exchange, u: Upstream, req: UpstreamRequest): UpstreamRequest {
      // The route the broker decided on (routeOf: "/V1/%6Dessages/" is /v1/messages), not the client's spelling of it,
      // so a native upstream acts on the route that was admitted, counted and planned, whatever its router makes of spellings.
      const a = (sent = ex.bodyCut === "budget" ? whenBufferFrees(ex, () => plan.attempt(u.kind, ex.route! + ex.search, req.body, req.bodyLength, u.version)) : plan.attempt(u.kind, ex.route! + ex.search, req.body, req.bodyLength, u.version));
      // Sent now, so it runs while the request does.
      // A failover's attempt reads beside it for its own upstream, or not at all: never the answer of the one before.
      aside = a.aside !== undefined ? asideRead(ex.table!.clientFor(u), a.aside, req) : null;
      if (a.target === req.target && a.body === req.body && a.method === undefined) return req;
      return { ...req, method: a.method ?? req.method, target: a.target, body: a.body, bodyLength: a.bodyLength };
    },
    reply(ex: Exchange, u: Upstream, res: UpstreamReply): UpstreamReply {
      const answer = sent!.answer(res.status, res.header("content-type"), aside);
      if (answer.transform === null && answer.contentType === null && answer.status === undefined) return res;
      if (answer.transform) ex.stripper = answer.transform;
      return new TransformedReply(answer.transform !== null ? decodedIfEncoded(res, u) : res, answer);
    },
  };
}

/**
 * An answer about to be rewritten in the caller's dialect, decoded first when the upstream compressed it though asked
 * for identity (encoded-error.ts): an error bounded as for a relayed one, so the rewrite parses the upstream's message
 * and the redaction then sees it; a whole success answer (a compressed stream was refused before: attempt.ts) bounded
 * as WholeBody holds one, so its translation reads the upstream's JSON rather than call compressed bytes "not JSON".
 * One header read per translated answer; nothing else unless it is compressed.
 */
function decodedIfEncoded(res: UpstreamReply, u: Upstream): UpstreamReply {
  const coding = res.hasBody ? res.header("content-encoding") : null;
  if (!isEncoded(coding)) return res;
  return res.status >= 400 ? decodedErrorReply(res, coding, u.name) : decodedWholeReply(res, coding, u.name);
}

/**
 * The attempt of a body left unheld because [proxy] replay_buffer was spent by the bodies in flight (not because it is
 * over the 32 MiB buffer): a translation that needs it whole is a 503 to retry once they are done, not the 413 that says
 * "at most 32 MiB" of a body under it (and that no SDK retries).
 */
function whenBufferFrees(ex: Exchange, attempt: () => DialectAttempt): DialectAttempt {
  try {
    return attempt();
  } catch (e) {
    if (!(e instanceof HttpError) || e.code !== "payload_too_large") throw e;
    throw new HttpError("unavailable", `the broker is holding as many request bodies as [proxy] replay_buffer allows, and this request's body must be read whole to be translated for an upstream without ${ex.route}; retry in a moment (or raise replay_buffer)`).after(1);
  }
}
