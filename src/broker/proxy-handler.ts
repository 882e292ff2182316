// Relays one Ollama/OpenAI-compatible request to an upstream: the request pipeline's stages in order (docs/broker.md).
//
//   read-request → admit → route → attempt (with failover; a plan per upstream) → relay-answer     (src/broker/pipeline/)
//
// The stages are plain functions of the Exchange, called in turn; each returns null to go on or the answer that ends
// the request (attempt hands its accepted reply to relay-answer itself, so the request costs one async frame there).
//
// The Exchange (exchange.ts) owns the request's state, which each stage fills in for the next; the routing table
// (routing-table.ts) is read once, here, so a reload never changes a request already under way (one still waiting in
// the queue is routed again by the new table: pipeline/attempt.ts); every error answer of
// the stages is rendered by pipeline/answer-error.ts in the dialect decided here, once, from the route.
import type { EventBus } from "../core/events.ts";
import type { Admitted, GatewayService } from "../core/contracts.ts";
import { dialectError, HttpError, type Dialect, type ErrorCode } from "../core/http-error.ts";
import { noRouteMessage, routeBeforeParams, routeOf } from "../core/model-routes.ts";
import { isFixedRoute } from "./route-target.ts";
import { Exchange } from "./exchange.ts";
import type { HeaderJson } from "../net/captured-headers.ts";
import type { Gate } from "./gate.ts";
import type { ReplayBudget } from "./replay-budget.ts";
import type { RoutingTable } from "./routing-table.ts";
import type { Upstream } from "./upstream.ts";
import { queuedSseResponse } from "./queued-sse.ts";
import { nameRequest } from "./pipeline/request-id.ts";
import { countRefusal } from "./refusal-metrics.ts";
import { admit } from "./pipeline/admit.ts";
import { requestDialect } from "./pipeline/answer-error.ts";
import { attempt, firstGrant } from "./pipeline/attempt.ts";
import { methodRefusal, readBody, takeRequest, unframedRefusal } from "./pipeline/read-request.ts";
import { relayAnswer } from "./pipeline/relay-answer.ts";
import { route } from "./pipeline/route.ts";

/** What the pipeline needs of the broker: the current routing table and the live services every version shares. */
export interface ProxyDeps {
  events: EventBus;
  /** This config version's table; a request reads it once, when it starts. */
  table(): RoutingTable;
  /** Upstream slots (max_parallel) and the fair queue. */
  gate: Gate<Upstream>;
  /** [proxy] replay_buffer: the bytes of bodies held for failover, shared by all requests. */
  replay: ReplayBudget;
  /** Who may use the broker (keys); absent in tests and tools that run a bare broker. */
  gateway(): GatewayService | undefined;
}

/** An error answer outside the pipeline (listener, listings), in the dialect of its path. */
export function brokerError(path: string, code: ErrorCode, message: string): Response {
  return dialectError(path, code, message);
}

/**
 * The broker's own refusal of a request outside the pipeline (the listener's Host, Origin and request checks): answered
 * like brokerError, and counted in c2l_refused_total as every refusal that reaches no upstream is (a foreign Origin or
 * Host is a page or a DNS-rebinding attempt probing the endpoint, which an operator watches for).
 */
export function brokerRefusal(path: string, code: ErrorCode, message: string): Response {
  return errorResponse(path, new HttpError(code, message));
}

/** A refusal thrown as an HttpError outside the pipeline (admission), answered in the caller's dialect with its headers (Retry-After). */
export function errorResponse(path: string, e: unknown, dialect?: Dialect): Response {
  countRefusal(e);
  if (e instanceof HttpError) return dialect ? e.render(dialect) : e.toDialectResponse(path);
  throw e;
}

export async function proxy(
  deps: ProxyDeps,
  req: Request,
  source: "local" | "tunnel",
  path: string,
  search: string,
  admitted: Admitted | null = null,
  headerJson: HeaderJson | null = null,
): Promise<Response> {
  // "/api/chat;x": a parameter no upstream strips (each answers 404), so no route; said in the route's dialect, as the
  // tunnel's agent says it (filter.ts). One indexOf per request; the rest only for such a path.
  const bare = routeBeforeParams(path);
  if (bare !== null && isFixedRoute(bare)) return errorResponse(bare, new HttpError("not_found", noRouteMessage(path, bare)));
  const table = deps.table();
  const ex = new Exchange(source, req.method, path, null, deps.events, table.capture, req.signal ?? null);
  ex.table = table;
  // What the upstream serves decides what is counted and the dialect: /api/%63hat is /api/chat to Ollama's router.
  const r = routeOf(path);
  ex.route = r;
  ex.dialect = requestDialect(r);
  ex.search = search;
  ex.admitted = admitted;
  ex.requestHeaders = req.headers;
  ex.headerJson = headerJson;
  const unframed = unframedRefusal(ex, req) ?? methodRefusal(ex);
  if (unframed !== null) return unframed;
  const read = await readBody(ex, req, deps.replay);
  const refused = takeRequest(ex, read) ?? admit(ex, deps.gateway()) ?? route(ex);
  if (refused !== null) return refused;
  const gate = deps.gate;
  const first = firstGrant(ex, gate);
  if (first instanceof Response) return first;
  // A streaming OpenAI request that has to wait gets its head now, and SSE comments while it waits.
  if (first instanceof Promise && ex.sseStream) {
    const head = queuedSseResponse(attempt(ex, gate, first, relayAnswer, deps.table), gate.length);
    nameRequest(ex, head.headers);
    return head;
  }
  return attempt(ex, gate, first, relayAnswer, deps.table);
}
