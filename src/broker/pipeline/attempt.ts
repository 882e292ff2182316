// Pipeline stage 4, attempt: a slot on the first upstream in order (or a place in the fair queue), the request sent
// through that upstream's plan (attempt-plan.ts), and failover to the next upstream while nothing reached the client.
import { ERROR_CODES, HttpError, streamFormat, type ErrorCode } from "../../core/http-error.ts";
import { EMBEDDING_PATHS, GENERATION_PATHS, type Exchange } from "../exchange.ts";
import { Rerouted, type Gate, type Grant } from "../gate.ts";
import { unloadRefusal, withOperatorKeepAlive } from "../keep-alive.ts";
import { describeFetchError } from "../../net/fetch-error.ts";
import type { RoutingTable } from "../routing-table.ts";
import type { UpstreamReply } from "../upstream-client.ts";
import type { Upstream } from "../upstream.ts";
import { clientClosed, errorAnswer, refusalAnswer } from "./answer-error.ts";
import { planFor, type AttemptPlan } from "./attempt-plan.ts";
import { route } from "./route.ts";
import { upstreamPath } from "../route-target.ts";

/**
 * The gate refused or gave up on the request (queue full or timed out, client gone while queued): recorded and answered.
 * `first`: no upstream was tried yet, so a request that waited and got no slot (503: queue_timeout, the daemon stopping)
 * reached none, and gives back its place in its key's --rpm minute, as one refused a place at once does (firstGrant).
 */
function queueRefusal(ex: Exchange, e: unknown, first = false): Response {
  if (ex.clientGone || (e as Error).name === "AbortError") {
    ex.fail(499, ex.goneBeforeAnswer("client closed the connection while queued"));
    return clientClosed();
  }
  if (e instanceof HttpError) {
    if (first && e.code === "unavailable" && ex.gateway !== null) ex.gateway.unqueued(ex.admitted!);
    ex.fail(e.status, e.message);
    return refusalAnswer(ex, e);
  }
  // A bug, not a refusal: the exchange still ends, so its budget hold and replay bytes are given back.
  ex.fail(500, e instanceof Error ? e.message : String(e));
  throw e;
}

/** A 404 of `u` hides an earlier failure: its list does not name the model, and an upstream tried before (which failed) does. */
function hidesFailure(model: string | null, u: Upstream, tried: readonly Upstream[]): boolean {
  return model !== null && u.models.length > 0 && !u.serves(model) && tried.some((t) => t.serves(model));
}

/** The routes that run the model, where a 404 is its "not found" (count_tokens' 404 is a route Ollama lacks: dialects/). */
const MODEL_RUNS = new Set([...GENERATION_PATHS, ...EMBEDDING_PATHS]);

/**
 * A 404 of `u` for a model its list names, while an upstream not tried yet (and not down) lists it too: `u`'s list is
 * stale (the model was removed since its last check, `ollama rm`), and its "not found" would hide the copy the other has.
 */
function staleListing(model: string | null, u: Upstream, order: readonly Upstream[], tried: readonly Upstream[] | null): boolean {
  if (model === null || !u.serves(model)) return false;
  for (const x of order) if (x !== u && x.state !== "down" && x.serves(model) && (tried === null || !tried.includes(x))) return true;
  return false;
}

/**
 * The leading upstreams of `order` that are not down and list the model (or whose list is not known yet): a request
 * waits for a slot on one of them rather than take a free one that does not list it, which would answer 404 (or, a
 * one-model llama.cpp, run its own model) while the model's own upstream is only busy. The others stay the failover.
 * The whole order when none does (the router's fallback) or all do (nothing allocated then).
 */
function listing(order: readonly Upstream[], model: string | null): readonly Upstream[] {
  if (model === null || order.length < 2) return order;
  let n = 0;
  while (n < order.length && order[n]!.state !== "down" && (order[n]!.models.length === 0 || order[n]!.serves(model))) n++;
  return n === 0 || n === order.length ? order : order.slice(0, n);
}

/**
 * A slot on the first upstream in the request's order that has one, a promise of one (the request waits its turn in
 * the fair queue), or the refusal answer. Asked before the attempts so a waiting stream can get its head at once.
 */
export function firstGrant(ex: Exchange, gate: Gate<Upstream>): Grant<Upstream> | Promise<Grant<Upstream>> | Response {
  try {
    return gate.acquire(listing(ex.order, ex.model), ex.claimant!, ex.clientSignal);
  } catch (e) {
    // Refused a place at once (the queue full: 429): it used nothing, so not one of its key's requests per minute
    // either, or a client retrying when Retry-After says would meet the --rpm limit its own refusals filled.
    if (e instanceof HttpError && e.code === "rate_limited" && ex.gateway !== null) ex.gateway.unqueued(ex.admitted!);
    return queueRefusal(ex, e);
  }
}

/**
 * A request a reload took out of the queue (the gate's Rerouted): routed again by the new table, so an upstream the
 * reload removed is never its target, and waiting on with its first start (its queue_timeout keeps counting). Not on
 * the way of a request that no reload met. An upstream already tried (by name) is not tried again.
 */
async function rerouted(ex: Exchange, gate: Gate<Upstream>, e: Rerouted<unknown>, tried: readonly Upstream[] | null): Promise<Grant<Upstream> | Response> {
  for (;;) {
    ex.table = e.next as RoutingTable;
    // The new table's order for the model (a 404 when no upstream of it lists the model any more, 502 when none is enabled).
    const refused = route(ex);
    if (refused !== null) return refused;
    const order = tried === null ? listing(ex.order, ex.model) : ex.order.filter((x) => !tried.some((t) => t.name === x.name));
    if (order.length === 0) {
      const msg = "the configuration was reloaded while the request waited, and every upstream it now has for this model was tried already";
      ex.fail(502, msg);
      return errorAnswer(ex, "upstream_error", msg);
    }
    try {
      const g = gate.acquire(order, ex.claimant!, ex.clientSignal, e.since);
      return g instanceof Promise ? await g : g;
    } catch (again) {
      if (!(again instanceof Rerouted)) return queueRefusal(ex, again, tried === null);
      e = again;
    }
  }
}

/**
 * Tries the upstreams in order, at most ex.attempts of them, never one that already failed: the first reply whose
 * headers arrived (a 5xx only from the last attempt), as the upstream's plan hands it over, passed on to `then` (the
 * relay stage: a call, not another async frame per request), or the error answer. `plans` chooses each attempt's plan
 * (planFor; a test passes its own). `live`: the running config's table, for rights that must hold when the request
 * goes out, not only when it arrived (one that waited in the queue through a reload obeys the new rules).
 */
export async function attempt<T>(
  ex: Exchange,
  gate: Gate<Upstream>,
  first: Grant<Upstream> | Promise<Grant<Upstream>>,
  then: (ex: Exchange, res: UpstreamReply) => T | Promise<T>,
  live: () => RoutingTable,
  plans: (ex: Exchange, u: Upstream) => AttemptPlan = planFor,
): Promise<T | Response> {
  // Both change when a reload routes the request again while it waits (rerouted()).
  let order = ex.order;
  let attempts = ex.attempts;
  let tried: Upstream[] | null = null;
  let lastCode: ErrorCode = "no_upstream";
  let lastMessage = "";
  // Each failed attempt's reason, in order: when all fail the caller hears every one, not only the last (the first
  // upstream refusing its connection is the news when the fallback then times out).
  let reasons = "";
  let asked = 0;
  for (let i = 0; i < attempts; i++, asked = i) {
    let grant: Grant<Upstream>;
    try {
      // Failover never goes back to an upstream that failed.
      const g = i === 0 ? first : gate.acquire(order.filter((x) => !tried!.some((t) => t.name === x.name)), ex.claimant!, ex.clientSignal);
      grant = g instanceof Promise ? await g : g;
    } catch (e) {
      if (!(e instanceof Rerouted)) return queueRefusal(ex, e, i === 0);
      const again = await rerouted(ex, gate, e, tried);
      if (again instanceof Response) return again;
      grant = again;
      order = ex.order;
      attempts = ex.attempts;
    }
    const u = grant.upstream;
    if (grant.position > 0) {
      ex.queued = grant;
      ex.queueMs += grant.waitedMs;
    }
    ex.holdSlot(gate, u);
    // A key revoked (or expired) while its request waited stops here: revoking a key stops what it has queued too.
    if (grant.position > 0 && ex.gateway !== null) {
      try {
        ex.gateway.recheck(ex.admitted!);
      } catch (e) {
        return queueRefusal(ex, e);
      }
    }
    const signal = ex.beginAttempt(u);
    const plan = plans(ex, u);
    if (ex.sentAt === 0) ex.sentAt = performance.now();
    const body = ex.payload;
    const ka = u.config.keep_alive;
    let request;
    let sent = body;
    try {
      // [[upstreams]] keep_alive: this upstream's own setting replaces what the client sent (Ollama routes, body in
      // memory); an explicit unload passes as it is, for a caller with the model-management right (keep-alive.ts).
      if (ka && body instanceof Uint8Array) {
        const kept = withOperatorKeepAlive(body, ex.route!, ka);
        if (kept === null) {
          // The running config's [tunnel] allow_model_management, not the one the request arrived under: an unload that
          // waited in the queue while a reload turned it off is refused, as a revoked key's queued requests are.
          const refused = unloadRefusal(ex.admitted, ex.caller, live().config.tunnel.allow_model_management, u.name);
          if (refused) throw refused;
        } else sent = kept;
      }
      request = plan.request(ex, u, {
        method: ex.method,
        target: upstreamPath(ex.path, ex.route!) + ex.search,
        headers: ex.requestHeaders,
        headerJson: ex.requestHeaderJson(),
        body: sent,
        bodyLength: sent === body ? ex.payloadLength : (sent as Uint8Array).byteLength,
        signal,
      });
    } catch (e) {
      // The plan cannot send this request (say, a body its translation refuses): no other upstream would do better.
      if (!(e instanceof HttpError)) {
        ex.fail(500, e instanceof Error ? e.message : String(e));
        throw e;
      }
      if (tried !== null) {
        // A failover to an upstream that cannot take it (a translation refusing generate's `raw`): the caller hears the
        // failure that sent it here first, not a 400 saying its request is wrong, which it was for no upstream.
        reasons += `; upstream "${u.name}" cannot take this request: ${e.message}`;
        asked = i + 1;
        break;
      }
      ex.fail(e.status, e.message);
      return refusalAnswer(ex, e);
    }
    let res: UpstreamReply;
    try {
      res = await ex.table!.clientFor(u).send(request);
    } catch (e) {
      if (ex.clientGone) {
        ex.fail(499, ex.goneBeforeAnswer());
        return clientClosed();
      }
      // The daemon is stopping (endStreams): no failover, the caller hears why.
      if (ex.stopReason !== null) {
        ex.fail(503, ex.stopReason);
        return errorAnswer(ex, "unavailable", ex.stopReason);
      }
      lastCode = ex.timedOut ? "upstream_timeout" : "upstream_error";
      lastMessage = ex.timedOut
        ? `upstream "${u.name}" sent no response within ${u.config.first_byte_timeout}`
        : `upstream "${u.name}" could not be reached: ${describeFetchError(e)}`;
      ex.attemptFailed(u, ERROR_CODES[lastCode], lastMessage);
      reasons = reasons === "" ? lastMessage : `${reasons}; ${lastMessage}`;
      ex.table!.suspect(u);
      // Only failover reads it: a request answered by its first upstream makes no list.
      (tried ??= []).push(u);
      continue;
    }
    if (res.status >= 300 && res.status < 400 && res.status !== 304) {
      // An upstream's redirect is neither followed nor passed on: a client following it would send its request (the
      // prompt, its headers) wherever the upstream chose, a service on the caller's own machine included.
      res.cancel();
      lastCode = "upstream_error";
      lastMessage = `upstream "${u.name}" answered ${res.status}, a redirect, which the broker neither follows nor passes on`;
      ex.attemptFailed(u, res.status, lastMessage);
      reasons = reasons === "" ? lastMessage : `${reasons}; ${lastMessage}`;
      (tried ??= []).push(u);
      continue;
    }
    const encoding = res.hasBody ? res.header("content-encoding") : null;
    if (encoding !== null && encoding !== "" && res.status < 400 && encoding.toLowerCase() !== "identity" && streamFormat(res.header("content-type")) !== "other") {
      // Asked for identity (headers.ts), it compressed anyway. A whole answer passes as it came (the client decodes it;
      // one a dialect translates is decoded first, bounded: dialect-attempt.ts);
      // but a stream's ending would get the broker's plain lines added to compressed bytes: refused as an answer the
      // broker cannot read, as a model list so compressed is; failover may go on. (An error answer so compressed is
      // decoded before its quoted credential is redacted: relay-answer.ts, encoded-error.ts.)
      res.cancel();
      lastCode = "upstream_error";
      lastMessage = `upstream "${u.name}" answered ${res.status} compressed (Content-Encoding: ${encoding.slice(0, 40)}) though the broker asked for identity; the broker cannot read it`;
      ex.attemptFailed(u, res.status, lastMessage);
      reasons = reasons === "" ? lastMessage : `${reasons}; ${lastMessage}`;
      (tried ??= []).push(u);
      continue;
    }
    if (res.status >= 500 && i < attempts - 1) {
      // Nothing reached the client yet: try the next upstream.
      res.cancel();
      lastCode = "upstream_error";
      lastMessage = `upstream "${u.name}" answered ${res.status}`;
      ex.attemptFailed(u, res.status, lastMessage);
      reasons = reasons === "" ? lastMessage : `${reasons}; ${lastMessage}`;
      (tried ??= []).push(u);
      continue;
    }
    if (res.status === 404 && i < attempts - 1 && MODEL_RUNS.has(ex.route!) && staleListing(ex.model, u, order, tried)) {
      // Not found where its list said: the next upstream that lists the model is asked, and this one's list read now.
      res.cancel();
      lastCode = "upstream_error";
      lastMessage = `upstream "${u.name}" answered 404 for the model "${ex.model}", which its model list names`;
      ex.attemptFailed(u, res.status, lastMessage);
      reasons = reasons === "" ? lastMessage : `${reasons}; ${lastMessage}`;
      ex.table!.suspect(u);
      (tried ??= []).push(u);
      continue;
    }
    if (res.status === 404 && tried !== null && hidesFailure(ex.model, u, tried)) {
      // The upstream that has the model failed and this one does not have it: its "not found" would hide why (and send
      // the user to pull a model that is there), so the failure is the answer.
      res.cancel();
      reasons += `; upstream "${u.name}" does not have the model "${ex.model}"`;
      asked = i + 1;
      break;
    }
    const reply = plan.reply(ex, u, res);
    // No failover after this: the body is not sent again, and a streaming answer must not keep it alive for as long as it
    // streams (tests/broker/stream-memory.test.ts).
    ex.payload = null;
    return then(ex, reply);
  }
  ex.fail(ERROR_CODES[lastCode], reasons);
  return errorAnswer(ex, lastCode, asked > 1 ? `${reasons} (after trying ${asked} upstreams)` : reasons);
}
