// One client request through the broker: its state as the pipeline's stages fill it in (src/broker/pipeline/), its
// attempts, the relayed response stream, and its accounting when it ends.
//
// The Exchange is itself the abort listener (handleEvent) and the response stream's direct source (pull/cancel), so a
// request costs one object rather than a handful of closures; the stages are plain functions of it.
import type { Admitted, CallerClass, GatewayService, RequestRecord } from "../core/contracts.ts";
import { followResumes, resumeMarkOf, type ResumeMark } from "../core/resume-marks.ts";
import type { EventBus } from "../core/events.ts";
import { HttpError, streamErrorTail, streamFormat, type Dialect, type StreamFormat } from "../core/http-error.ts";
import { noteActivity } from "../core/idle-gc.ts";
import type { Claimant, Gate, Grant } from "./gate.ts";
import type { RequestModels } from "./model-fields.ts";
import type { BlobProof } from "./blob-proof.ts";
import type { RoutingTable } from "./routing-table.ts";
import { logger } from "../core/log.ts";
import { capturedHeaders, type HeaderJson } from "../net/captured-headers.ts";
import { Attempt, type AttemptSignal, type UpstreamReply } from "./upstream-client.ts";
import type { Upstream } from "./upstream.ts";
import { requestMetrics } from "./prometheus.ts";
import { BYTES_PER_TOKEN, estimatePromptTokens, joinTail, parsePromptUsage, parseUsage, streamedTokens, TAIL_BYTES, type TokenUsage } from "./usage.ts";
import type { StreamTransform } from "./stream-transform.ts";
import { wholeUsage } from "./whole-usage.ts";
import { streamCutShort } from "./stream-ending.ts";
import { contentKeysOf } from "./content-events.ts";
import type { DialectPlan } from "./dialects/plan-types.ts";


/**
 * The generation routes whose streams carry one token per line or event with content: counted as they pass (streamedTokens,
 * with the route's content keys: content-events.ts), and
 * held against a key's budget. With the other kinds' own spellings of them: llama.cpp serves its OpenAI routes without
 * /v1 too and has its own /completion and /infill (tokens_predicted); LM Studio's REST API serves them under /api/v0,
 * and has its own chat, /api/v1/chat (max_output_tokens; its stats count).
 * A generation on a route left out here would be neither held nor counted.
 */
export const GENERATION_PATHS = new Set([
  "/api/chat", "/api/generate", "/v1/chat/completions", "/v1/completions", "/v1/messages", "/v1/responses",
  "/chat/completions", "/completions", "/completion", "/infill",
  "/api/v0/chat/completions", "/api/v0/completions", "/api/v1/chat",
]);
/**
 * The routes whose answers count prompt tokens only (an embedding generates nothing), as a key's budget spends them:
 * embeddings (llama.cpp's own /embedding and /embeddings, LM Studio's /api/v0 one) and the other prompt-only routes of
 * llama.cpp and vLLM (rerank, score, classify, pooling), by their usage.prompt_tokens or the request's size.
 */
export const EMBEDDING_PATHS = new Set([
  "/api/embed", "/api/embeddings", "/v1/embeddings",
  "/embedding", "/embeddings", "/api/v0/embeddings",
  "/rerank", "/reranking", "/v1/rerank", "/v1/reranking", "/v2/rerank", "/score", "/v1/score", "/classify", "/pooling",
]);

/** The routes that run the model: a first-byte timeout on them counts against the upstream's health (its streak). */
const MODEL_RUNS: ReadonlySet<string> = new Set([...GENERATION_PATHS, ...EMBEDDING_PATHS]);

/** Marks the end of a stream in the chunk list for the usage stripper (compared by identity). */
const STREAM_END = new Uint8Array(0);
/** The tail of a stream that sent nothing. */
const EMPTY = new Uint8Array(0);
const enc = new TextEncoder();
const dec = new TextDecoder();
const TAIL_CHUNKS = 4;
/** Answers up to this size with a Content-Length are read whole rather than streamed. */
export const SMALL_RESPONSE = 256 * 1024;
let nextId = 0;
// Bun's typings cannot pick the "direct" overload for a class instance; the runtime takes any object with type "direct".
const DirectStream = ReadableStream as unknown as new (source: object) => ReadableStream<Uint8Array>;
const log = logger("broker");

export interface CaptureOptions {
  enabled: boolean;
  cap: number;
}

/**
 * First-byte deadlines of the attempts waiting for response headers, and the silences of streams waiting for their
 * upstream's next chunk (stream_idle_timeout), checked once a second: cheaper than a timer per request (or a timer
 * re-armed per chunk), and a second's precision is plenty for timeouts of seconds to minutes.
 */
const waiting = new Set<Exchange>();
const streaming = new Set<Exchange>();
let sweeper: ReturnType<typeof setInterval> | null = null;

function sweep(): void {
  const now = performance.now();
  for (const ex of waiting) {
    if (ex.deadline > now) continue;
    waiting.delete(ex);
    ex.timedOut = true;
    ex.ac?.abort();
    ex.firstByteMissed();
  }
  for (const ex of streaming) {
    // Only a read of the upstream counts as silence: time spent waiting for a slow client is not the upstream's.
    if (ex.readingSince === 0 || now - ex.readingSince < ex.idleLimitMs) continue;
    streaming.delete(ex);
    ex.idleTimedOut = true;
    ex.ac?.abort();
  }
  if (waiting.size === 0 && streaming.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = null;
  }
}

function watch(set: Set<Exchange>, ex: Exchange): void {
  set.add(ex);
  if (!sweeper) {
    sweeper = setInterval(sweep, 1000);
    sweeper.unref?.();
  }
}

/**
 * The requests at an upstream now (from their first attempt until they end): a daemon that stops ends each with its
 * reason (endStreams), not a reset.
 */
const relaying = new Set<Exchange>();

/**
 * Ends every request at an upstream with `reason`: a stream with it as its last error line or event, one still waiting
 * for its answer with a 503 (both in the caller's dialect); then waits (at most `waitMs`) for them to finish. A stopping
 * daemon's clients learn why their answer ended instead of seeing a reset connection.
 */
export async function endStreams(reason: string, waitMs = 1000): Promise<void> {
  if (relaying.size === 0) return;
  for (const ex of relaying) {
    ex.stopReason = reason;
    ex.ac?.abort();
  }
  for (const until = performance.now() + waitMs; relaying.size > 0 && performance.now() < until; ) await Bun.sleep(10);
  // The last bytes are written; give them a moment to leave before the listener closes the connections.
  await Bun.sleep(50);
}

const NO_UPSTREAMS: readonly Upstream[] = [];

/**
 * Why a caller's request signal aborted, for the record: a tunnel stream's session that ended (the daemon stopping past
 * go_away_grace, the relay gone: src/protocol/stream.ts' session_closed) was not the client's choice, and says so.
 */
function goneWhy(reason: unknown, fallback = "client closed the connection", outcome = "the answer is incomplete"): string {
  const r = reason as { code?: unknown; message?: unknown } | undefined;
  return r?.code === "session_closed" && typeof r.message === "string" ? `${r.message}; ${outcome}` : fallback;
}

/** The start time of the last record, in the two spellings a record carries: requests that start in the same
 * millisecond (a burst) share the strings instead of each making a Date and two strings. */
let stampMs = -1;
let stampIso = "";
let stamp36 = "";
function stampFor(ms: number): void {
  if (ms === stampMs) return;
  stampMs = ms;
  stampIso = new Date(ms).toISOString();
  stamp36 = ms.toString(36);
}

/** An upstream that sent its response head and then no body (or not all of an answer read whole) within first_byte_timeout. */
export function headOnlyMessage(name: string, timeout: string | undefined): string {
  return `upstream "${name}" sent its response head but not its body within ${timeout} (first_byte_timeout); the answer was ended`;
}

/** A tunnel answer's record that later resumes follows it (apart from emit(): its closure would cost every record a scope). */
function followRecord(events: EventBus, rec: RequestRecord, resumed: ResumeMark): void {
  rec.resumed = resumed;
  const id = rec.id;
  followResumes(resumed, () => events.emit("request.resumed", { id, resumed: { ...resumed } }));
}

export class Exchange {
  // --- The request as the pipeline's stages decide it (each field is written by one stage, read by the later ones).
  /** The routing table this request started with (set by the pipeline): it keeps it to the end, whatever reloads. */
  table: RoutingTable | null = null;
  /** The dialect of every error answer of this request, decided once from its route (pipeline/answer-error.ts). */
  dialect: Dialect = "ollama";
  /** The query string, sent upstream after the path. */
  search = "";
  /** Who was admitted (the gateway's answer; null in a bare broker). */
  admitted: Admitted | null = null;
  /**
   * The gateway that admitted the request: it checks it again after a wait in the queue (admit.ts, attempt.ts), a key's
   * (revoked, expired, its budget) and a keyless caller's (a reload of [proxy] require_key that now needs one).
   */
  gateway: GatewayService | null = null;
  /** The body as it is sent upstream (alias and usage ask applied), its length (-1: chunked), and whether it can be sent twice. */
  payload: Uint8Array | ReadableStream<Uint8Array> | null = null;
  payloadLength = -1;
  retryable = true;
  /** A blob upload of a key with a model list, hashed as it passes: settled before its answer (relay-answer.ts). */
  blobProof: BlobProof | null = null;
  /** The models the body names (read-request), for the key's checks (admit). */
  named: RequestModels | null = null;
  /** Why the body was not read whole (null when it was): longer than the limit, or the replay budget was spent. */
  bodyCut: "limit" | "budget" | null = null;
  /** The model name the client sent when it is an alias (`model` is then what the alias stands for), else null. */
  aliasOf: string | null = null;
  /** A streaming OpenAI request (it gets its SSE head at once when it has to wait in the queue). */
  sseStream = false;
  /** The upstreams to try in order (route), and how many attempts at most. */
  order: readonly Upstream[] = NO_UPSTREAMS;
  attempts = 1;
  /** Whose turn it is when upstreams are busy (max_parallel): the key's bucket, or the caller's class without one. */
  claimant: Claimant | null = null;
  /** The grant that had to wait in the queue (its position goes in x-queue-position), else null. */
  queued: Grant<Upstream> | null = null;
  /** performance.now() when the body was read and when the first attempt was sent: the broker's own time between. */
  bodyRead = 0;
  sentAt = 0;

  /** Numbered at once, spelled out only when a record is emitted or an answer names it (requestId). */
  private readonly seq = ++nextId;
  private id = "";
  /** When the request's clock starts: construction, then (pipeline) the moment its body was read, as ttfb and duration exclude the upload. */
  started = performance.now();
  readonly time = Date.now();
  upstream: Upstream | null = null;
  ac: Attempt | null = null;
  clientGone = false;
  timedOut = false;
  status = 0;
  ttfbMs: number | null = null;
  bytesIn = 0;
  bytesOut = 0;
  error: string | null = null;
  requestBody: string | undefined;
  /** The API key the request used (its name) and where the caller is, for usage accounting. */
  keyName: string | null = null;
  caller: CallerClass;
  /** Time spent waiting for a slot (the gate's queue). */
  queueMs = 0;
  /** The client's headers and the ones it got back: references only, copied (redacted) when a record is emitted. */
  requestHeaders: Headers | null = null;
  responseHeaders: Headers | null = null;
  /** requestHeaders as `toJSON()` made them, when admission already did (else made on first use, below). */
  headerJson: HeaderJson | null = null;
  /** The client's headers as `toJSON()` makes them, made once: admission, the upstream request's head and the record share it. */
  requestHeaderJson(): HeaderJson | null {
    return (this.headerJson ??= (this.requestHeaders?.toJSON() as HeaderJson | undefined) ?? null);
  }
  private responseCapture: Uint8Array[] | null = null;
  private captured = 0;
  /** performance.now() by which response headers must have arrived (first_byte_timeout). */
  deadline = 0;
  /** While relaying: performance.now() when the pending read of the upstream began (0: not reading). */
  readingSince = 0;
  /** The upstream's stream_idle_timeout, for the sweeper. */
  idleLimitMs = 0;
  /** The upstream stayed silent past stream_idle_timeout and was cut. */
  idleTimedOut = false;
  /** Why the broker itself ended this stream (the daemon stopping: endStreams), else null. */
  stopReason: string | null = null;
  /** The relayed body's first read came back: first_byte_timeout no longer applies. */
  private bodyBegun = false;
  private reader: UpstreamReply | null = null;
  private format: StreamFormat = "other";
  /** The last chunks relayed, for the usage at the end: made when a stream starts (an answer read whole has `whole`). */
  private tail: (Uint8Array | undefined)[] | null = null;
  private tailPos = 0;
  private whole: Uint8Array | null = null;
  /** A whole generation answer relayed in parts (no Content-Length, or a large one): its parts while they fit SMALL_RESPONSE. */
  private wholeParts: Uint8Array[] | null = null;
  private wholePartsBytes = 0;
  private lastByte = 10;
  private done = false;
  private usage: TokenUsage | null = null;
  /** Whether this response is a generation stream whose tokens are counted as they pass (for a stream cut short). */
  private counting = false;
  /** Whether this response is a generation's answer (200 on a generation route), streamed or whole: it is never free. */
  private generation = false;
  /** Whether this response is an embedding's answer (200 on an embedding route): its prompt is counted, never free. */
  private embedding = false;
  /** Tokens relayed so far, one per NDJSON line or SSE data event with content: the count when the upstream's own never arrives. */
  private streamed = 0;
  /** The keys that make a line or event of this route's stream content (content-events.ts), and whether the one in progress was counted. */
  private contentKeys: readonly Buffer[] = [];
  eventCounted = false;
  /** The scan of a native SSE stream (usage.ts SseScan): where it stands between chunks, and an event found not JSON. */
  sseEventStart = true;
  sseBadEventAt = -1;
  /** The token counts are estimates (the stream ended before the upstream's own counts, or it sent none). */
  tokensEstimated = false;
  /** Gives back what this request holds of its key's daily token budget, once, after its usage is counted. */
  private budget: (() => void) | null = null;
  holdBudget(release: (() => void) | null): void {
    this.budget = release;
  }
  private settleBudget(): void {
    const b = this.budget;
    this.budget = null;
    b?.();
  }
  /** Gives back the upstream slot this request holds (the gate's, for `upstream`), once: when an attempt fails or the exchange ends. */
  private slot: Gate<Upstream> | null = null;
  private slotOf: Upstream | null = null;
  holdSlot(gate: Gate<Upstream>, u: Upstream): void {
    this.slot = gate;
    this.slotOf = u;
  }
  private releaseSlot(): void {
    const g = this.slot;
    if (g === null) return;
    this.slot = null;
    g.release(this.slotOf!, this.claimant!);
  }
  /** Gives the request body's bytes back to the replay budget, once: when a response is accepted or the exchange ends. */
  private body: (() => void) | null = null;
  holdBody(release: () => void): void {
    this.body = release;
  }
  private releaseBody(): void {
    const r = this.body;
    this.body = null;
    r?.();
  }
  /**
   * Between the upstream's body and the client, with the usage it reads: the usage stripper when the broker asked the
   * upstream for usage the client did not ask for, or a dialect's translator or usage watcher (dialects/).
   */
  stripper: StreamTransform | null = null;
  /** The request's dialect plan (dialects/plan.ts: Anthropic Messages, count_tokens, Responses), null for other routes. */
  dialectPlan: DialectPlan | null = null;
  /** The route the upstream serves for `path` (routeOf: escapes decoded, slashes folded); what decides counting. */
  route: string | null = null;

  constructor(
    readonly source: "local" | "tunnel",
    readonly method: string,
    readonly path: string,
    /** The model routed to and counted (what an alias stands for); set by the pipeline once the body is read. */
    public model: string | null,
    private readonly events: EventBus,
    private readonly capture: CaptureOptions,
    readonly clientSignal: AbortSignal | null,
  ) {
    noteActivity();
    // Never removed: that costs more than a late, harmless call (every path through here is idempotent).
    if (clientSignal) clientSignal.addEventListener("abort", this);
    if (capture.enabled) this.responseCapture = [];
    // Until admission says otherwise (no gateway in a bare broker): the tunnel's callers, or this machine's.
    this.caller = source === "tunnel" ? "tunnel" : "local";
  }

  /** The client went away (its request signal aborted): abort the upstream at once. */
  handleEvent(): void {
    this.clientGone = true;
    this.ac?.abort();
    if (this.reader) this.finish(goneWhy(this.clientSignal?.reason));
  }

  /**
   * Why the request ended before its answer began, for the record: `fallback` when its client left; a tunnel session
   * lost meanwhile (the relay gone, its heartbeat lost) was not the client's choice and is named (goneWhy).
   */
  goneBeforeAnswer(fallback = "client closed the connection"): string {
    return goneWhy(this.clientSignal?.reason, fallback, "no answer was sent");
  }

  /** Starts one attempt on an upstream; returns the signal for its fetch. */
  beginAttempt(u: Upstream): AttemptSignal {
    this.upstream = u;
    this.timedOut = false;
    relaying.add(this);
    this.ac = new Attempt();
    if (this.clientGone) this.ac.abort();
    this.deadline = performance.now() + u.firstByteTimeoutMs;
    watch(waiting, this);
    return this.ac;
  }

  /**
   * The upstream sent no first byte within first_byte_timeout (the sweeper's verdict): on a route that runs the model,
   * one more in its streak, and a health check now, which takes it down once the streak reaches failures_before_down
   * (health-monitor.ts): an upstream whose probes answer but whose generations never start is not tried first forever.
   */
  firstByteMissed(): void {
    const u = this.upstream;
    if (u === null || !MODEL_RUNS.has(this.route ?? this.path)) return;
    u.firstByteTimeouts++;
    this.table?.suspect(u);
  }

  /** The attempt failed before anything reached the client (counted against that upstream; failover may follow). */
  attemptFailed(u: Upstream, status: number, message: string): void {
    this.clearTimer();
    this.releaseSlot();
    const ms = performance.now() - this.started;
    u.metrics.recordRequest(ms, null, true, 0);
    u.dirty = true;
    const m = requestMetrics(u.name, this.source);
    m.requests.inc();
    m.errors.inc();
    this.status = status;
    this.error = message;
  }

  /** Headers arrived: from here on the response belongs to the client. */
  accept(res: UpstreamReply): void {
    // first_byte_timeout holds until the body's first byte (an answer read whole: its end), not just the head: an
    // upstream that sends its head and then nothing (a LAN host gone, llama.cpp's early head) is not waited for forever.
    if (!res.hasBody) this.clearTimer();
    // No attempt can follow: the body is no longer held for one.
    this.releaseBody();
    this.status = res.status;
    this.ttfbMs = performance.now() - this.started;
    this.error = null;
    const ct = res.header("content-type") ?? "";
    this.format = streamFormat(ct);
    this.generation = res.status === 200 && GENERATION_PATHS.has(this.route ?? this.path);
    this.embedding = res.status === 200 && EMBEDDING_PATHS.has(this.route ?? this.path);
    this.counting = this.format !== "other" && this.generation;
    if (this.counting) this.contentKeys = contentKeysOf(this.route ?? this.path);
  }

  /**
   * A small, complete answer (stream:false, listings): read whole and sent as bytes, which costs far less than
   * relaying a stream. Only plain bodies whose Content-Length says they are small.
   */
  isSmall(res: UpstreamReply): boolean {
    if (this.format !== "other" || !res.hasBody) return false;
    const cl = res.header("content-length");
    return cl !== null && Number(cl) <= SMALL_RESPONSE;
  }

  /** Accounts a small answer that was read whole. */
  completeSmall(bytes: Uint8Array): void {
    this.bytesOut = bytes.byteLength;
    this.whole = bytes;
    if (this.responseCapture) this.responseCapture.push(bytes.slice(0, this.capture.cap));
    this.finish(null);
  }

  /** The relayed stream: Bun's "direct" stream (no queue in between; write() reports a client that went away). */
  stream(res: UpstreamReply): ReadableStream<Uint8Array> | null {
    if (!res.hasBody) {
      this.finish(null);
      return null;
    }
    this.reader = res;
    if ((this.generation || this.embedding) && this.format === "other") this.wholeParts = [];
    this.idleLimitMs = this.upstream?.streamIdleTimeoutMs ?? 0;
    if (this.idleLimitMs > 0) watch(streaming, this);
    return new DirectStream(this);
  }

  readonly type = "direct";

  async pull(c: ReadableStreamDirectController): Promise<void> {
    const reader = this.reader;
    if (!reader) return c.close();
    for (;;) {
      // readMany takes every chunk already queued: one flush for a burst, and still one per chunk when they trickle.
      let r: { done: boolean; value: Uint8Array[] };
      try {
        const p = reader.read();
        if (p instanceof Promise) {
          // The idle clock starts with the first body byte: before it, the upstream may still be reading the prompt.
          if (this.bytesOut > 0) this.readingSince = performance.now();
          r = await p;
          this.readingSince = 0;
        } else r = p;
        if (!this.bodyBegun) {
          this.bodyBegun = true;
          waiting.delete(this);
        }
      } catch (e) {
        this.readingSince = 0;
        if (this.clientGone || this.done) return c.close();
        return this.breakOff(c, e);
      }
      const chunks = r.value;
      // The stripper holds back a partial event: at the end, what it still holds goes out after the last chunk.
      if (r.done && this.stripper) chunks.push(STREAM_END);
      for (let i = 0; i < chunks.length; i++) {
        let chunk = chunks[i]!;
        if (this.stripper) chunk = chunk === STREAM_END ? this.stripper.end() : this.stripper.push(chunk);
        if (chunk.byteLength === 0) continue;
        let notJson: Uint8Array | null = null;
        if (this.counting) {
          // Scanned for an event whose data cannot be JSON as its tokens are counted (the same search). What a transform
          // writes is scanned as the client gets it: the usage stripper passes the upstream's events as they are, and the
          // translations' events (named with `event:` lines) are never taken for one.
          this.streamed += streamedTokens(chunk, this.format === "sse", this.contentKeys, this, this);
          if (this.sseBadEventAt >= 0) {
            notJson = chunk.subarray(this.sseBadEventAt);
            chunk = chunk.subarray(0, this.sseBadEventAt);
            // Nothing of the chunk came before that event: the client gets the stream's error event alone.
            if (chunk.byteLength === 0) return this.notJsonEvent(c, notJson);
          }
        }
        const n = chunk.byteLength;
        this.bytesOut += n;
        (this.tail ??= new Array(TAIL_CHUNKS))[this.tailPos++ % TAIL_CHUNKS] = chunk;
        if (this.wholeParts !== null) this.keepPart(chunk);
        this.lastByte = chunk[n - 1]!;
        if (this.responseCapture && this.captured < this.capture.cap) {
          const part = chunk.subarray(0, this.capture.cap - this.captured);
          this.responseCapture.push(part.slice());
          this.captured += part.byteLength;
        }
        let w = c.write(chunk);
        // A pending write means the client reads slower than the upstream writes: wait (backpressure).
        if (typeof w !== "number") w = await w;
        if (w === 0 || this.clientGone) {
          this.cancel();
          return c.close();
        }
        if (notJson !== null) return this.notJsonEvent(c, notJson);
      }
      if (r.done) {
        // The transform ended the answer with its dialect's error (a translated stream cut short): the client has it.
        if (this.stripper?.failure) {
          c.close();
          return this.endedWithError(this.stripper.failure);
        }
        // A native generation stream that ended cleanly before its last line or event is not a whole answer (stream-ending.ts).
        const cut = this.counting && !this.stripper?.ownsUsage ? streamCutShort(this.format, this.bytesOut > 0 ? this.usageTail() : EMPTY) : null;
        if (cut !== null) return this.breakOff(c, new Error(cut));
        break;
      }
      // A transform that ended the answer with an error (a translated stream gone wrong): the rest is not read.
      if (this.stripper?.abandoned) {
        reader.cancel();
        c.close();
        return this.endedWithError(this.stripper.failure ?? "the upstream's stream broke the rules of its dialect; the answer was ended with an error");
      }
      c.flush();
    }
    c.close();
    this.finish(null);
  }

  /** The client went away (Bun's cancel callback of the stream, or write() returning 0): abort the upstream. */
  cancel(): void {
    if (this.done) return;
    this.clientGone = true;
    this.ac?.abort();
    this.reader?.cancel();
    this.finish("client closed the connection");
  }

  /**
   * A transform ended the answer with its dialect's error (written to the client already): the upstream failed this
   * answer, so it counts as its error and the log says why, as a native stream broken off does (breakOff).
   */
  private endedWithError(reason: string): void {
    log.warn("upstream's stream ended with an error", { upstream: this.upstream?.name ?? "?", path: this.path, bytes: this.bytesOut, reason });
    this.finish(reason);
  }

  /**
   * A native SSE stream's event whose data cannot be JSON (`event`: the chunk from that event on): the client got the events before
   * it; the stream ends with its route's error event (OpenAI's SDK raises an APIError saying why, where the event itself
   * would make it throw a bare SyntaxError), and the rest of the upstream's body is not read.
   */
  private notJsonEvent(c: ReadableStreamDirectController, event: Uint8Array): void {
    const line = dec.decode(event.subarray(0, 200)).split("\n", 1)[0]!.replace(/^data: ?/, "").trimEnd();
    this.reader?.cancel();
    this.breakOff(c, new Error(`it sent a stream event that is not JSON (${JSON.stringify(line.slice(0, 80))}); the answer is incomplete`));
  }

  /** The upstream broke off after bytes reached the client: no retry; end with a proper error in the stream's format. */
  private breakOff(c: ReadableStreamDirectController, e: unknown): void {
    const name = this.upstream?.name ?? "?";
    const headOnly = this.timedOut && !this.bodyBegun;
    const msg = this.stopReason ?? (this.idleTimedOut
      ? `upstream "${name}" sent nothing for ${this.upstream?.config.stream_idle_timeout} in the middle of the response (stream_idle_timeout); the stream was ended`
      : headOnly
        ? headOnlyMessage(name, this.upstream?.config.first_byte_timeout)
        : `upstream "${name}" broke off the response: ${(e as Error)?.message ?? String(e)}`);
    this.error = msg;
    // The client got a 200 and then an error line: the log is where an operator sees which upstream stalls or breaks.
    if (this.stopReason !== null) log.info("stream ended: the broker is stopping", { upstream: name, path: this.path, bytes: this.bytesOut });
    else log.warn(this.idleTimedOut || headOnly ? "upstream stalled mid-stream; stream ended" : "upstream broke off mid-stream", {
      upstream: name,
      path: this.path,
      bytes: this.bytesOut,
      ...(this.idleTimedOut
        ? { stream_idle_timeout: this.upstream?.config.stream_idle_timeout }
        : headOnly
          ? { first_byte_timeout: this.upstream?.config.first_byte_timeout }
          : { reason: (e as Error)?.message ?? String(e) }),
    });
    const code = this.stopReason !== null ? "unavailable" : headOnly ? "upstream_timeout" : "upstream_error";
    // A translation that has its own ending for a failed answer (Responses' response.failed) writes that instead.
    const own = this.stripper?.brokenOff?.(msg) ?? null;
    const tail = own !== null ? null : streamErrorTail(this.format, new HttpError(code, msg), this.lastByte, this.path);
    if (own !== null || tail !== null) {
      c.write(own ?? enc.encode(tail!));
      c.close();
    }
    this.finish(msg);
    // No in-band way to say it: fail the body so the client sees a broken response, not a truncated "success". Not with
    // an Error: Bun prints any Error a body fails with as a stack dump (the warning above is the one log line).
    if (own === null && tail === null) throw undefined;
  }

  private clearTimer(): void {
    waiting.delete(this);
    streaming.delete(this);
  }

  /** Accounting, once: metrics window, Prometheus, request.completed. */
  finish(error: string | null): void {
    if (this.done) return;
    this.done = true;
    relaying.delete(this);
    // The collection of this request's garbage waits until the broker is quiet (src/core/idle-gc.ts).
    noteActivity();
    this.clearTimer();
    this.releaseSlot();
    this.releaseBody();
    if (error !== null) this.error = error;
    const durationMs = performance.now() - this.started;
    const u = this.upstream;
    const t = this.stripper;
    // A GET generates nothing: counts in its answer (a stored response read again) were counted when they were made.
    const usage = t?.usage ?? (this.bytesOut && !t?.ownsUsage && this.method !== "GET" ? this.answerUsage() : null) ?? this.estimatedUsage();
    this.usage = usage;
    let tokensPerSec: number | null = null;
    let genMs = 0;
    if (usage && usage.tokens > 0) {
      genMs = usage.genMs ?? durationMs - (this.ttfbMs ?? 0);
      if (genMs > 0) tokensPerSec = usage.tokens / (genMs / 1000);
    }
    // Client aborts and 4xx are not the upstream's fault; 5xx and broken streams are.
    const failed = this.status >= 500 || (this.error !== null && !this.clientGone);
    if (u) {
      // Its first byte came: the upstream's streak of first-byte timeouts ends (read first: nothing to do almost always).
      if (u.firstByteTimeouts !== 0 && !this.timedOut && this.ttfbMs !== null && MODEL_RUNS.has(this.route ?? this.path)) u.firstByteTimeouts = 0;
      u.metrics.recordRequest(durationMs, this.ttfbMs, failed, this.bytesIn + this.bytesOut, usage?.tokens ?? 0, genMs);
      if (this.ttfbMs !== null) u.noteLatency(this.ttfbMs);
      u.dirty = true;
      const m = requestMetrics(u.name, this.source);
      m.requests.inc();
      if (failed) m.errors.inc();
      m.duration.observe(durationMs / 1000);
      if (this.ttfbMs !== null) m.ttfb.observe(this.ttfbMs / 1000);
      if (this.bytesIn) m.bytesIn.inc(this.bytesIn);
      if (this.bytesOut) m.bytesOut.inc(this.bytesOut);
      if (usage?.tokens) m.tokens.inc(usage.tokens);
    }
    this.reader = null;
    this.emit(durationMs, tokensPerSec);
    this.settleBudget();
  }

  /** A part of a whole generation answer relayed in parts, kept (by reference) while the answer fits SMALL_RESPONSE. */
  private keepPart(chunk: Uint8Array): void {
    this.wholePartsBytes += chunk.byteLength;
    if (this.wholePartsBytes > SMALL_RESPONSE) this.wholeParts = null;
    else this.wholeParts!.push(chunk);
  }

  /**
   * The upstream's counts: a whole generation answer's from its parsed fields (whole-usage.ts: neither lost behind data
   * after them nor taken from data the client sent and the upstream echoed), a stream's or a larger answer's from its tail.
   */
  private answerUsage(): TokenUsage | null {
    if ((this.generation || this.embedding) && this.format === "other") {
      const whole = this.whole ?? (this.wholeParts !== null ? Buffer.concat(this.wholeParts) : null);
      if (whole !== null) return wholeUsage(whole);
      // Cut short, its end (where its counts are) never came, and what came before them is what the model wrote
      // (Ollama's tool call arguments are a JSON object: "eval_count": 0 among them): counted by its size instead.
      if (this.error !== null) return null;
    }
    const tail = this.usageTail();
    // An embedding generates nothing: its answer's only count is its prompt's.
    return parseUsage(tail, this.format === "ndjson") ?? (this.embedding ? parsePromptUsage(tail) : null);
  }

  /**
   * A generation stream that ended without the upstream's counts (the client went away, the upstream broke off, or it
   * never sends them): the tokens relayed, and the prompt estimated from the request's size. Aborting never makes a
   * request free. Null for anything else.
   */
  private estimatedUsage(): TokenUsage | null {
    if (this.embedding) {
      // An embedding without its count (one over 256 KiB, an old /api/embeddings answer): its prompt by the request's size.
      this.tokensEstimated = true;
      return { tokens: 0, promptTokens: estimatePromptTokens(this.bytesIn), genMs: null };
    }
    if (!this.generation) return null;
    this.tokensEstimated = true;
    // A whole answer without its counts (cut short, or in no known shape) has no token events: one per 4 bytes of it.
    const tokens = this.counting ? this.streamed : Math.ceil(this.bytesOut / BYTES_PER_TOKEN);
    // The prompt's count the upstream gave before the cut (a Messages stream's message_start) wins over the estimate.
    return { tokens, promptTokens: this.stripper?.promptTokens ?? estimatePromptTokens(this.bytesIn), genMs: null };
  }

  /**
   * A request answered without relaying one upstream response: no upstream, every attempt failed, or an answer the
   * broker composed itself (merged model lists; message null). Recorded for the inspector, not for any upstream.
   */
  fail(status: number, message: string | null): void {
    relaying.delete(this);
    this.status = status;
    this.error = message;
    this.releaseSlot();
    this.releaseBody();
    if (this.done) return;
    this.done = true;
    this.clearTimer();
    this.emit(performance.now() - this.started, null);
    this.settleBudget();
  }

  /**
   * A request refused before it was routed (bad body, the key's limits): nothing is recorded for it, as nothing was
   * asked of an upstream; what it holds (the body's replay bytes) is given back.
   */
  discard(): void {
    this.releaseBody();
    if (this.done) return;
    this.done = true;
    this.settleBudget();
  }

  /** The end of the response: the newest chunk alone when it is long enough (no copy), else the last chunks joined. */
  private usageTail(): Uint8Array {
    const newest = this.tail === null ? this.whole! : this.tail[(this.tailPos - 1) % TAIL_CHUNKS]!;
    if (this.tail === null || this.tailPos === 1 || newest.byteLength >= TAIL_BYTES) return newest.subarray(Math.max(0, newest.byteLength - TAIL_BYTES));
    return joinTail(this.orderedTail());
  }

  private orderedTail(): (Uint8Array | undefined)[] {
    const out: (Uint8Array | undefined)[] = [];
    for (let i = 0; i < TAIL_CHUNKS; i++) out.push(this.tail![(this.tailPos + i) % TAIL_CHUNKS]);
    return out;
  }

  /**
   * The request's id, as its record (the inspector, the usage rows) carries it: spelled once, on first use, for the
   * answer's request-id header (pipeline/request-id.ts) and the record alike.
   */
  requestId(): string {
    if (this.id === "") {
      stampFor(this.time);
      this.id = this.seq.toString(36) + "-" + stamp36;
    }
    return this.id;
  }

  private emit(durationMs: number, tokensPerSec: number | null): void {
    if (!this.events.heard("request.completed")) return;
    stampFor(this.time);
    const rec: RequestRecord = {
      id: this.requestId(),
      time: stampIso,
      source: this.source,
      method: this.method,
      path: this.path,
      model: this.model,
      upstream: this.upstream?.name ?? null,
      status: this.status,
      ttfbMs: this.ttfbMs,
      durationMs,
      tokensPerSec,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      error: this.error,
      promptTokens: this.usage?.promptTokens ?? null,
      completionTokens: this.usage?.tokens ?? null,
      key: this.keyName,
      caller: this.caller,
      queueMs: this.queueMs,
    };
    if (this.tokensEstimated) rec.tokensEstimated = true;
    // By reference: a tunnel answer resumed after this record was made still shows it (and the page hears of it).
    const resumed = resumeMarkOf(this.clientSignal);
    if (resumed) followRecord(this.events, rec, resumed);
    const reqHeaders = capturedHeaders(this.requestHeaders, this.headerJson);
    if (reqHeaders) rec.requestHeaders = reqHeaders;
    const resHeaders = capturedHeaders(this.responseHeaders);
    if (resHeaders) rec.responseHeaders = resHeaders;
    if (this.capture.enabled) {
      if (this.requestBody !== undefined) rec.requestBody = this.requestBody;
      if (this.responseCapture) rec.responseBody = dec.decode(Buffer.concat(this.responseCapture));
      // Only the first body_cap bytes are kept: say so, so the inspector does not show a cut body as whole.
      if (rec.requestBody !== undefined && this.bytesIn > this.capture.cap) rec.requestBodyTruncated = true;
      if (rec.responseBody !== undefined && this.bytesOut > this.capture.cap) rec.responseBodyTruncated = true;
    }
    this.events.emit("request.completed", rec);
  }
}
