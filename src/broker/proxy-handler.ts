// Relays one Ollama/OpenAI-compatible request to an upstream, with failover before the first byte (docs/broker.md).
import type { EventBus } from "../core/events.ts";
import type { Admitted, GatewayService } from "../core/contracts.ts";
import { dialectError, ERROR_CODES, HttpError, type ErrorCode } from "../core/http-error.ts";
import { Exchange, GENERATION_PATHS, type CaptureOptions } from "./exchange.ts";
import type { UpstreamClient, UpstreamReply } from "./upstream-client.ts";
import type { Upstream } from "./upstream.ts";
import { describeFetchError } from "./net-error.ts";
import { BUFFER_LIMIT, readRoutingBody } from "./request-body.ts";
import type { ReplayBudget } from "./replay-budget.ts";
import { requestModels, type RequestModels } from "./model-fields.ts";
import { routeOf } from "../core/model-routes.ts";
import { KEEP_ALIVE_PATHS, withFields, withModel, type AliasTable } from "./aliases.ts";

/** Ollama reads keep_alive as a duration string or a number of seconds ("-1" forever, "0" unload at once). */
const keepAliveValue = (v: string): string | number => (/^-?\d+$/.test(v) ? Number(v) : v);
import type { Claimant, Gate, Grant } from "./gate.ts";
import { conversationKey, stickyFirst } from "./router.ts";

const bodyText = new TextDecoder();
function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(bodyText.decode(body));
  } catch {
    return null;
  }
}
import { usagePlan, UsageStripper, USAGE_STREAM_PATHS } from "./sse-usage.ts";
import { estimatePromptTokens } from "./usage.ts";
import { queuedSseResponse } from "./queued-sse.ts";

export interface ProxyDeps {
  events: EventBus;
  /** Upstreams in the order to try for this model (router.ts). */
  order(model: string | null): Upstream[];
  maxAttempts(): number;
  capture(): CaptureOptions;
  /** The client holding the upstream's connection pool. */
  clientFor(u: Upstream): UpstreamClient;
  /** A request could not reach the upstream: check its health now rather than at the next interval. */
  suspect(u: Upstream): void;
  /** Who may use the broker (keys); absent in tests and tools that run a bare broker. */
  gateway(): GatewayService | undefined;
  /** [[aliases]]: requested name → the model to route to and ask for. */
  aliases(): AliasTable;
  /** Upstream slots (max_parallel) and the fair queue. */
  gate(): Gate<Upstream>;
  /** [proxy] sticky: one conversation, one upstream. */
  sticky(): boolean;
  /** [proxy] replay_buffer: the bytes of bodies held for failover, shared by all requests. */
  replay(): ReplayBudget;
}

/** An error answer in the format the client speaks: Ollama's {"error": "..."} or OpenAI's {"error": {...}}. */
export function brokerError(path: string, code: ErrorCode, message: string): Response {
  return dialectError(path, code, message);
}

/** A refusal thrown as an HttpError (admission), answered in the caller's dialect with its headers (Retry-After). */
export function errorResponse(path: string, e: unknown): Response {
  if (e instanceof HttpError) return e.toDialectResponse(path);
  throw e;
}

/** A POST/PUT/PATCH on the HTTP listener that declared no body framing at all (an HTTP/1.0 client that closes the
 * connection to end its body). Tunnel requests carry their body in the stream, so this is only asked of local ones. */
function unframedBody(req: Request): boolean {
  const m = req.method;
  // The headers first: asking for req.body makes Bun build a ReadableStream, which a framed request never needs here.
  return (m === "POST" || m === "PUT" || m === "PATCH") && !req.headers.has("content-length") && !req.headers.has("transfer-encoding") && req.body === null;
}

/** The request body's Content-Encoding when it is one the broker does not undo (anything but none or identity), else null. */
function bodyEncoding(headers: Headers): string | null {
  const ce = headers.get("content-encoding")?.trim();
  return ce && ce.toLowerCase() !== "identity" ? ce : null;
}

/** Status and headers for the client; the reason phrase only when it is not Bun's own ("OK" costs a string copy). */
function responseInit(res: UpstreamReply, headers: HeadersInit): ResponseInit {
  return res.statusText === "" || (res.status === 200 && res.statusText === "OK")
    ? { status: res.status, headers }
    : { status: res.status, statusText: res.statusText, headers };
}

export async function proxy(
  deps: ProxyDeps,
  req: Request,
  source: "local" | "tunnel",
  path: string,
  search: string,
  admitted: Admitted | null = null,
): Promise<Response> {
  const method = req.method;
  if (source === "local" && unframedBody(req)) {
    // HTTP/1.x has no close-delimited request bodies: bytes sent without a length are not a body, and forwarding an
    // empty one would get a misleading answer (e.g. "model not found") from whichever upstream is first.
    return brokerError(
      path,
      "bad_request",
      `the ${method} request has no Content-Length or Transfer-Encoding, so it has no body; send the body with a Content-Length or Transfer-Encoding: chunked (a body that ends when the connection closes is not read)`,
    );
  }
  const read = await readRoutingBody(req, path, BUFFER_LIMIT, deps.replay());
  // The broker's own time is what it spends between having the client's body and sending it upstream.
  const bodyRead = performance.now();
  let sentAt = 0;
  if (read === null) return brokerError(path, "bad_request", "the client went away while sending the request body");
  let { body, bodyLength } = read;
  const { retryable, bytesIn } = read;
  // The models the body names, read as the upstream reads them (top-level keys, escapes, case, duplicates refused), on
  // the route the upstream will serve (an escaped spelling of a path is the same route).
  const route = routeOf(path);
  let named: RequestModels;
  try {
    named = requestModels(route, read.head, body === null || body === read.head);
  } catch (e) {
    read.release();
    return errorResponse(path, e);
  }
  const requested = named.model ?? null;
  // An alias routes, and asks the upstream, for the model it stands for (a body held in memory is rewritten; one too
  // large to hold is sent as it is). It stands in the "model" field only: that is the one withModel writes.
  const alias = requested !== null && named.field === "model" ? deps.aliases().get(requested) : undefined;
  const model = alias ? alias.model : requested;
  if (alias && body instanceof Uint8Array) {
    body = withModel(body, alias.model);
    bodyLength = body.byteLength;
  }
  // An OpenAI stream reports its tokens only when asked: ask, and take the extra event out unless the client asked too.
  let stripUsage = false;
  let sseStream = false;
  if (body instanceof Uint8Array && method === "POST" && USAGE_STREAM_PATHS.has(route)) {
    const plan = usagePlan(body);
    const asked = plan.withUsage;
    sseStream = plan.streaming;
    if (asked) {
      body = asked;
      bodyLength = asked.byteLength;
      stripUsage = true;
    }
  }
  if (admitted) {
    // The key's model allowlist and rate, now that the model is known (who was checked before the body was read).
    try {
      const request = { path: route, others: named.others, opaque: named.opaque, complete: named.complete, cut: read.cut, encoding: bodyEncoding(req.headers) };
      deps.gateway()?.authorize(admitted, named.model === undefined ? undefined : model, alias && requested !== null ? requested : undefined, request);
    } catch (e) {
      read.release();
      return errorResponse(path, e);
    }
  }

  // A generation request of a key with a daily budget holds an estimate of its use until that is counted (or is refused
  // while the key's requests in flight hold the rest); handed to the Exchange below, with no await in between.
  let budget: (() => void) | null = null;
  if (admitted?.key?.tokens_per_day && GENERATION_PATHS.has(route)) {
    try {
      budget = deps.gateway()?.reserve(admitted, body instanceof Uint8Array ? body : null, estimatePromptTokens(bytesIn)) ?? null;
    } catch (e) {
      read.release();
      return errorResponse(path, e);
    }
  }

  const capture = deps.capture();
  const ex = new Exchange(source, method, path, model, deps.events, capture, req.signal ?? null);
  // What the upstream serves decides what is counted: /api/%63hat is /api/chat to Ollama's router.
  ex.route = route;
  ex.holdBody(read.release);
  ex.bytesIn = bytesIn;
  ex.requestHeaders = req.headers;
  if (stripUsage) ex.stripper = new UsageStripper();
  if (admitted) {
    ex.keyName = admitted.key?.name ?? null;
    ex.caller = admitted.caller;
    ex.holdBudget(budget);
  }
  if (capture.enabled && body instanceof Uint8Array)
    ex.requestBody = Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, capture.cap)).toString("utf8");

  let order = deps.order(model);
  if (deps.sticky() && order.length > 1 && body instanceof Uint8Array) {
    const key = conversationKey(parseJson(body));
    if (key !== null) order = stickyFirst(order, model, key);
  }
  if (order.length === 0) {
    ex.fail(502, "no upstream is enabled");
    return brokerError(path, "no_upstream", "no upstream is enabled in the broker's configuration");
  }
  const attempts = retryable ? Math.min(order.length, deps.maxAttempts()) : 1;
  let lastCode: ErrorCode = "no_upstream";
  let lastMessage = "";
  // Whose turn it is when upstreams are busy (max_parallel): the key's bucket, or the caller's class without one.
  const claimant: Claimant = {
    bucket: admitted?.key?.name ?? `-${ex.caller}`,
    keyLimit: admitted?.key?.max_parallel ?? 0,
    local: ex.caller !== "tunnel",
  };
  const gate = deps.gate();
  const refusal = (e: unknown): Response => {
    if (ex.clientGone || (e as Error).name === "AbortError") {
      ex.fail(499, "client closed the connection while queued");
      return new Response(null, { status: 499 });
    }
    if (e instanceof HttpError) {
      ex.fail(e.status, e.message);
      return e.toDialectResponse(path);
    }
    // A bug, not a refusal: the exchange still ends, so its budget hold and replay bytes are given back.
    ex.fail(500, e instanceof Error ? e.message : String(e));
    throw e;
  };
  // The first upstream in routing order with a free slot, or a place in the queue.
  let first: Grant<Upstream> | Promise<Grant<Upstream>>;
  try {
    first = gate.acquire(order, claimant, req.signal ?? null);
  } catch (e) {
    return refusal(e);
  }
  const run = () => attempt(first);
  // A streaming OpenAI request that has to wait gets its head now, and SSE comments while it waits.
  if (first instanceof Promise && sseStream) return queuedSseResponse(run(), gate.length);
  return run();

  async function attempt(firstGrant: Grant<Upstream> | Promise<Grant<Upstream>>): Promise<Response> {
    let tried: Upstream[] | null = null;
    let queued: Grant<Upstream> | null = null;
    for (let i = 0; i < attempts; i++) {
      // Failover never goes back to an upstream that failed.
      const candidates = tried === null ? order : order.filter((x) => !tried!.includes(x));
      let grant: Grant<Upstream>;
      try {
        const g = i === 0 ? firstGrant : gate.acquire(candidates, claimant, req.signal ?? null);
        grant = g instanceof Promise ? await g : g;
      } catch (e) {
        return refusal(e);
      }
      const u = grant.upstream;
      if (grant.position > 0) {
      queued = grant;
      ex.queueMs += grant.waitedMs;
    }
      (tried ??= []).push(u);
      // bind, not an arrow: an arrow here would hold this handler's whole scope, the request body with it, for as long as
      // the answer streams (tests/broker/stream-memory.test.ts).
      ex.holdSlot(gate.release.bind(gate, u, claimant));
      const signal = ex.beginAttempt(u);
      let res: UpstreamReply;
      try {
        if (sentAt === 0) sentAt = performance.now();
        // [[upstreams]] keep_alive: this upstream's own setting replaces what the client sent (Ollama routes, body in memory).
        const ka = u.config.keep_alive;
        const sent = ka && body instanceof Uint8Array && KEEP_ALIVE_PATHS.has(route) ? withFields(body, { keep_alive: keepAliveValue(ka) }) : body;
        res = await deps
          .clientFor(u)
          .send({
            method,
            target: path + search,
            headers: req.headers,
            body: sent,
            bodyLength: sent === body ? bodyLength : (sent as Uint8Array).byteLength,
            signal,
          });
      } catch (e) {
        if (ex.clientGone) {
          ex.fail(499, "client closed the connection");
          return new Response(null, { status: 499 });
        }
        lastCode = ex.timedOut ? "upstream_timeout" : "upstream_error";
        lastMessage = ex.timedOut
          ? `upstream "${u.name}" sent no response within ${u.config.first_byte_timeout}`
          : `upstream "${u.name}" could not be reached: ${describeFetchError(e)}`;
        ex.attemptFailed(u, ERROR_CODES[lastCode], lastMessage);
        deps.suspect(u);
        continue;
      }
      if (res.status >= 500 && i < attempts - 1) {
        // Nothing reached the client yet: try the next upstream.
        res.cancel();
        lastCode = "upstream_error";
        lastMessage = `upstream "${u.name}" answered ${res.status}`;
        ex.attemptFailed(u, res.status, lastMessage);
        continue;
      }
      ex.accept(res);
      const headers = res.clientHeaders();
      // What the broker added before the first upstream attempt (admission, aliases, routing), and time queued (no queue yet).
      const queueMs = queued?.waitedMs ?? 0;
      headers.set("server-timing", `broker;dur=${(sentAt - bodyRead - queueMs).toFixed(2)}, queue;dur=${queueMs.toFixed(2)}`);
      if (queued) headers.set("x-queue-position", String(queued.position));
      ex.responseHeaders = headers;
      if (ex.isSmall(res)) {
        let bytes: Uint8Array;
        try {
          bytes = await res.bytes();
        } catch (e) {
          if (ex.clientGone) {
            ex.finish("client closed the connection");
            return new Response(null, { status: 499 });
          }
          const msg = `upstream "${u.name}" broke off the response: ${describeFetchError(e)}`;
          ex.status = 502;
          ex.finish(msg);
          return brokerError(path, "upstream_error", msg);
        }
        ex.completeSmall(bytes);
        return new Response(bytes as Uint8Array<ArrayBuffer>, responseInit(res, headers));
      }
      return new Response(ex.stream(res), responseInit(res, headers));
    }
    ex.fail(ERROR_CODES[lastCode], lastMessage);
    return brokerError(path, lastCode, attempts > 1 ? `${lastMessage} (after trying ${attempts} upstreams)` : lastMessage);
  }
}
