// A fake Ollama (or OpenAI-compatible) server for tests and benchmarks: in-process via startFakeOllama(), or as a process.
// With kind llamacpp, vllm or lmstudio it also serves that server's own routes (tests/helpers/fake-kinds/), and with
// `slots` it runs that many generations at once, queueing the rest as those servers do.
//
//   bun tests/helpers/fake-ollama.ts --port 0 --tokens N --delay-ms D [--models a,b] [--kind KIND] [--slots N] [--version V]
//
// prints "fake-ollama: listening url=http://127.0.0.1:PORT" and serves until SIGTERM/SIGINT.
import type { Server } from "bun";
import { servesNatively, type KindName } from "../../src/kinds/index.ts";
import { anthropicMessages, chatToolCall, openAiResponses, type FakeContext } from "./fake-dialects.ts";
import { readBodyAs, readPathAs } from "./fake-kinds/body-reading.ts";
import { FAKE_KIND_CHAT_EXTRAS, FAKE_KIND_ROUTES, FAKE_KIND_THINKING } from "./fake-kinds/index.ts";

export interface FakeOllamaOptions {
  /** Model names served (Ollama style "name:tag"). Default ["llama3.2:1b"]. */
  models?: string[];
  /** Tokens in each generated answer. Default 5. */
  tokens?: number;
  /** Delay before each token, in ms (also before a stream:false answer, per token). Default 0. */
  tokenDelayMs?: number;
  /** Answer of /api/version. Default "0.14.0" (the first release with every route the fake serves: Anthropic's Messages). */
  version?: string;
  /** Inference routes (chat, generate, embed, completions) answer 503 "server busy". Mutable through `options`. */
  failWith503?: boolean;
  /** Streams break off (connection dropped, no final line) after this many tokens, each of them delivered. */
  dieAfterTokens?: number;
  /**
   * Streams stop after this many tokens and send nothing more until the client goes away (a client that aborts after
   * N tokens then got exactly N). Mutable through `options`.
   */
  stallAfterTokens?: number;
  /**
   * Chat completion streams begin with a chunk that carries the role only (`"delta": {"role": "assistant", "content": ""}`),
   * as OpenAI's API and vLLM send it; Ollama's carries the role in each token's chunk. Mutable through `options`. Default false.
   */
  roleChunk?: boolean;
  /**
   * "ollama" serves the Ollama API and /v1/*; the others serve /v1/*, and llamacpp, vllm and lmstudio their own routes
   * besides (health, props, slots, metrics, native model lists: tests/helpers/fake-kinds/). Anthropic's /v1/messages
   * and OpenAI's /v1/responses are served by the kinds whose table says they serve them (src/kinds/: all but "openai",
   * a generic OpenAI-compatible server, where they are 404).
   */
  kind?: KindName;
  /** Generations run at once (llama.cpp's --parallel); more wait their turn inside the server. 0: no limit. Default 0. */
  slots?: number;
  /** Models in memory (Ollama /api/ps, LM Studio's loaded_instances). Default: the first model. */
  loaded?: string[];
  /** The server is still loading its model (llama.cpp: /health answers 503). Mutable through `options`. */
  loading?: boolean;
  /** llama.cpp: fields of GET /props in place of the fake's (a vision model: { modalities: { vision: true } }); null: /props is 404. Mutable through `options`. */
  props?: Record<string, unknown> | null;
  /**
   * A thinking model: the reasoning its chat completions write before the answer (in the kind's own field), unless the
   * request switches its thinking off as that kind's server reads it (tests/helpers/fake-kinds/: FAKE_KIND_THINKING;
   * kinds not there never reason). "": none. Mutable through `options`. Default "".
   */
  reasoning?: string;
  /** Port to bind on 127.0.0.1. Default 0 (ephemeral). */
  port?: number;
  /** Address to bind instead of 127.0.0.1 (e.g. "::1": an Ollama on IPv6 loopback only); `url` names it. */
  hostname?: string;
  /** Record requests (tests); benchmarks turn it off. Default true. */
  record?: boolean;
  /**
   * Route on the path as the kind's server does (fake-kinds/body-reading.ts): Go's net/http unescapes it and its
   * ServeMux redirects an unclean one, uvicorn unquotes it, cpp-httplib decodes %XX and %uXXXX: "/api/%74ags" is served
   * as /api/tags. Requests are recorded with the path as sent (and `routed`). Default false.
   */
  routeDecoded?: boolean;
  /**
   * Keep blobs as Ollama does (`blobs`): an upload is hashed against the digest in its path (400 on a mismatch), one
   * of a blob it has is 200 with its body unread, HEAD says whether it has it, and /api/create opens the blobs its
   * files, adapters and draft_files name. Default false: every upload is drained and 201, whatever its digest.
   */
  blobStore?: boolean;
}

export interface RecordedRequest {
  time: number; // performance.now()
  method: string;
  path: string;
  /** The query, "?…" ("" for none). */
  search: string;
  headers: Record<string, string>;
  bodySize: number;
  /** The JSON body as the kind's server reads it (fake-kinds/body-reading.ts: Ollama's top-level keys folded as Go matches them). */
  json?: unknown;
  /** With routeDecoded: the path the kind's router routed on (its escapes decoded). */
  routed?: string;
  /** The client's source port: equal ports mean a reused (kept-alive) connection. */
  remotePort: number;
}

export interface RecordedAbort {
  time: number; // performance.now() when the server noticed the client went away
  path: string;
}

export interface FakeOllama {
  url: string;
  port: number;
  requests: RecordedRequest[];
  aborts: RecordedAbort[];
  /** Live options: tests flip failWith503, dieAfterTokens, tokenDelayMs... between requests. */
  options: Required<Omit<FakeOllamaOptions, "dieAfterTokens" | "stallAfterTokens" | "port" | "hostname">> & { dieAfterTokens?: number; stallAfterTokens?: number };
  /** Unhealthy: every route answers 503 (health checks included). */
  setHealthy(healthy: boolean): void;
  /** Resolves once `aborts` has n entries (or rejects after timeoutMs). */
  waitForAborts(n: number, timeoutMs?: number): Promise<RecordedAbort[]>;
  /** Generations running now, the most that ever ran at once (what max_parallel must hold down), and those waiting for a slot. */
  concurrency: { now: number; max: number; waiting: number };
  /**
   * Ollama's blob store: the digests ("sha256:…") of the blobs it has (a pulled model's weights: add them), and those
   * uploaded with POST /api/blobs/:digest. An /api/create's files, adapters and draft_files must name them.
   */
  blobs: Set<string>;
  stop(): Promise<void>;
}

const enc = new TextEncoder();
const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };
const NDJSON_HEADERS = { "content-type": "application/x-ndjson" };
const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };

/** Like Ollama's allowedHostsMiddleware for a loopback listener: loopback names and addresses only. */
export function isAllowedOllamaHost(hostHeader: string | null): boolean {
  if (!hostHeader) return true;
  let h = hostHeader.toLowerCase();
  if (h.startsWith("[")) h = h.slice(1, h.indexOf("]"));
  else if (h.lastIndexOf(":") > 0 && h.indexOf(":") === h.lastIndexOf(":")) h = h.slice(0, h.lastIndexOf(":"));
  if (h === "" || h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h)) return true;
  return h.endsWith(".localhost") || h.endsWith(".local") || h.endsWith(".internal");
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? Bun.sleep(ms) : Promise.resolve();
}

function tagObject(name: string) {
  return {
    name,
    model: name,
    modified_at: "2026-01-01T00:00:00Z",
    size: 1_321_098_329,
    digest: Bun.hash(name).toString(16).padStart(16, "0").repeat(4),
    details: { parent_model: "", format: "gguf", family: "llama", families: ["llama"], parameter_size: "1.2B", quantization_level: "Q8_0" },
  };
}

/**
 * A top-level field as the fake's kind reads it: the body was read by that kind's parser (fake-kinds/body-reading.ts),
 * so Ollama's keys are already folded as Go matches them ({"stream":false,"STREAM":true} streams) and the others exact.
 */
function topLevel(body: Record<string, unknown>, name: string): unknown {
  return body[name];
}

/** A blob digest as Ollama's manifest.BlobsPath takes it. */
const BLOB_DIGEST = /^sha256[:-][0-9a-fA-F]{64}$/;

const INFERENCE_ROUTE = /^\/(api\/(chat|generate|embed|embeddings)|v1\/(chat\/completions|completions|embeddings|messages|responses))$/;

function errorJson(status: number, message: string): Response {
  return Response.json({ error: message }, { status });
}

export async function startFakeOllama(opts: FakeOllamaOptions = {}): Promise<FakeOllama> {
  const options: FakeOllama["options"] = {
    models: opts.models ?? ["llama3.2:1b"],
    tokens: opts.tokens ?? 5,
    tokenDelayMs: opts.tokenDelayMs ?? 0,
    version: opts.version ?? "0.14.0",
    failWith503: opts.failWith503 ?? false,
    dieAfterTokens: opts.dieAfterTokens,
    stallAfterTokens: opts.stallAfterTokens,
    roleChunk: opts.roleChunk ?? false,
    kind: opts.kind ?? "ollama",
    record: opts.record ?? true,
    slots: opts.slots ?? 0,
    loaded: opts.loaded ?? (opts.models ?? ["llama3.2:1b"]).slice(0, 1),
    loading: opts.loading ?? false,
    props: opts.props === undefined ? {} : opts.props,
    routeDecoded: opts.routeDecoded ?? false,
    reasoning: opts.reasoning ?? "",
    blobStore: opts.blobStore ?? false,
  };
  let healthy = true;
  const concurrency = { now: 0, max: 0, waiting: 0 };
  /** Generations waiting for a slot, first come first served. */
  const slotWaiters: (() => void)[] = [];
  /** Resolves when a slot is free (at once without a slot limit); the generation then counts as running. */
  function slot(): Promise<void> | void {
    if (options.slots <= 0 || concurrency.now < options.slots) return;
    concurrency.waiting++;
    return new Promise<void>((resolve) =>
      slotWaiters.push(() => {
        concurrency.waiting--;
        resolve();
      }),
    );
  }
  const requests: RecordedRequest[] = [];
  const aborts: RecordedAbort[] = [];
  const blobs = new Set<string>();
  const abortWaiters: { n: number; resolve: () => void }[] = [];

  const noteAbort = (path: string) => {
    aborts.push({ time: performance.now(), path });
    for (const w of [...abortWaiters]) if (aborts.length >= w.n) (abortWaiters.splice(abortWaiters.indexOf(w), 1), w.resolve());
  };
  const listed = (m: unknown) =>
    typeof m === "string" && (options.models.includes(m) || (!m.includes(":") && options.models.includes(`${m}:latest`)));
  // llama.cpp with one model runs it whatever the request names (its server only echoes "model"); the others answer 404.
  const hasModel = (m: unknown) => (options.kind === "llamacpp" && options.models.length === 1 ? typeof m === "string" || m === undefined : listed(m));

  /** A token stream: delays, optional death, abort noticed through cancel() or the request's signal. */
  function tokenStream(req: Request, path: string, tokens: number, line: (i: number) => Uint8Array, final: Uint8Array[]): Response {
    let i = 0;
    let gone = false;
    let ended: (() => void) | null = null;
    const onGone = () => {
      ended?.();
      if (gone) return;
      gone = true;
      noteAbort(path);
    };
    req.signal.addEventListener("abort", onGone, { once: true });
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (gone) return;
        if (!ended) {
          await slot();
          ended = generationStarted();
          // Gone while it waited for a slot: give the slot back at once.
          if (gone) return ended();
        }
        if (i < tokens) {
          if (options.dieAfterTokens !== undefined && i >= options.dieAfterTokens) {
            gone = true; // not a client abort: we are the ones dying
            ended!();
            // The last token first reaches the socket: Bun writes what a pull enqueued when its event loop turn ends
            // (its writes are corked in between), and erroring the body in the same turn dropped that token with the
            // connection, so a stream that should die after N tokens delivered N-1. A timer runs on a later turn.
            await Bun.sleep(0);
            // Erroring the body drops the connection without the final chunk; no Error object, so Bun logs nothing.
            c.error(undefined);
            return;
          }
          // Stalled: nothing more until the client goes away (onGone ends the wait).
          if (options.stallAfterTokens !== undefined && i >= options.stallAfterTokens) {
            const end = ended;
            return new Promise<void>((resolve) => {
              ended = () => (end(), resolve());
            });
          }
          await sleep(options.tokenDelayMs);
          if (gone) return;
          c.enqueue(line(i++));
          return;
        }
        for (const f of final) c.enqueue(f);
        gone = true;
        ended!();
        c.close();
      },
      cancel() {
        onGone();
      },
    });
    const sse = path.startsWith("/v1/") || path === "/completion" || path === "/api/v1/chat";
    return new Response(body, { headers: sse ? SSE_HEADERS : NDJSON_HEADERS });
  }

  /** stream:false: wait as long as the generation would take, noticing a client that goes away meanwhile. */
  async function waitGeneration(req: Request, path: string, tokens: number): Promise<boolean> {
    await slot();
    const ended = generationStarted();
    try {
      return await generate(req, path, tokens);
    } finally {
      ended();
    }
  }

  function generationStarted(): () => void {
    concurrency.now++;
    concurrency.max = Math.max(concurrency.max, concurrency.now);
    let once = false;
    return () => {
      if (once) return;
      once = true;
      concurrency.now--;
      slotWaiters.shift()?.();
    };
  }

  async function generate(req: Request, path: string, tokens: number): Promise<boolean> {
    for (let i = 0; i < tokens; i++) {
      if (options.dieAfterTokens !== undefined && i >= options.dieAfterTokens) return false;
      await sleep(options.tokenDelayMs);
      if (req.signal.aborted) {
        noteAbort(path);
        return false;
      }
    }
    return true;
  }

  const tokenText = (i: number) => `tok${i} `;
  // A request may ask for fewer or more tokens (Ollama options.num_predict, OpenAI max_tokens, llama.cpp n_predict), like
  // a real model, read as the kind's server reads it: Ollama's top-level keys without case (Go), its options map with any
  // number (700.0, 7e2); vLLM's pydantic also takes a string of digits ("700", "7_00": Python's int() skips an underscore
  // between digits) and 7e2; the others integers only.
  const tokensFor = (body: any): number => {
    const kind = options.kind;
    const top = (name: string) => (body && typeof body === "object" ? topLevel(body, name) : undefined);
    const lax = (v: unknown) => (kind === "vllm" && typeof v === "string" && /^\s*\+?\d+(?:_\d+)*\s*$/.test(v) ? Number(v.replace(/_/g, "")) : v);
    const n = (kind === "llamacpp" ? top("n_predict") : undefined) ?? (top("options") as any)?.num_predict ?? lax(top("max_tokens")) ?? lax(top("max_completion_tokens"));
    return Number.isInteger(n) && n >= 0 ? n : options.tokens;
  };
  const answer = (n: number) => Array.from({ length: n }, (_, i) => tokenText(i)).join("");
  const evalDurationNs = (n: number) => Math.max(1, n * Math.max(options.tokenDelayMs, 1)) * 1_000_000;
  const doneStats = (n: number) => ({
    total_duration: evalDurationNs(n) + 1_000_000,
    load_duration: 500_000,
    prompt_eval_count: 7,
    prompt_eval_duration: 400_000,
    eval_count: n,
    eval_duration: evalDurationNs(n),
  });
  const now = () => new Date().toISOString();

  const dialects: FakeContext = {
    hasModel,
    tokensFor,
    tokenText,
    stream: (req, path, pieces, final) => tokenStream(req, path, pieces.length, (i) => pieces[i]!, final),
    wait: (req, path, tokens) => waitGeneration(req, path, tokens),
  };

  /** The body as the kind's server reads it (fake-kinds/body-reading.ts); `refused`: why that server's parser refuses it. */
  async function readBody(req: Request): Promise<{ size: number; json: any; refused?: string }> {
    if (!req.body) return { size: 0, json: undefined };
    const buf = new Uint8Array(await req.arrayBuffer());
    if (buf.byteLength === 0) return { size: 0, json: undefined };
    const read = readBodyAs(options.kind, buf);
    return read.ok ? { size: buf.byteLength, json: read.value } : { size: buf.byteLength, json: undefined, refused: read.reason };
  }

  /** Counts an upload's bytes without holding it. */
  async function drainBody(req: Request): Promise<number> {
    let n = 0;
    if (req.body) for await (const chunk of req.body) n += chunk.byteLength;
    return n;
  }

  async function handle(req: Request, url: URL, remotePort: number): Promise<Response> {
    let path = url.pathname;
    const method = req.method;
    const rec: RecordedRequest | null = options.record
      ? { time: performance.now(), method, path, search: url.search, headers: Object.fromEntries(req.headers), bodySize: 0, remotePort }
      : null;
    if (rec) requests.push(rec);
    if (options.routeDecoded) {
      // The path as the kind's server routes it: Go's unescaping (400 for a bad escape), ServeMux's 301 to the clean
      // path and gin's redirect of a trailing slash, uvicorn's unquote and starlette's, cpp-httplib's %XX and %uXXXX
      // (fake-kinds/body-reading.ts).
      const routed = readPathAs(options.kind, path, method);
      if ("status" in routed) return new Response(null, { status: routed.status, headers: routed.location ? { location: routed.location } : {} });
      path = routed.path;
      if (rec) rec.routed = path;
    }

    if (options.kind === "ollama" && !isAllowedOllamaHost(req.headers.get("host"))) return new Response("", { status: 403 });
    if (!healthy) return errorJson(503, "fake upstream is unhealthy");

    // Blob uploads are streamed, hashed and counted, never held (Ollama's HeadBlobHandler and CreateBlobHandler).
    if (options.kind === "ollama" && path.startsWith("/api/blobs/") && !options.blobStore) {
      if (method === "HEAD") return new Response(null, { status: 404 });
      const size = await drainBody(req);
      if (rec) rec.bodySize = size;
      return new Response(null, { status: 201 });
    }
    if (options.kind === "ollama" && path.startsWith("/api/blobs/")) {
      const digest = path.slice("/api/blobs/".length);
      if (!BLOB_DIGEST.test(digest)) return errorJson(400, "invalid digest format");
      const name = digest.replace("-", ":");
      if (method === "HEAD") return blobs.has(name) ? new Response(null, { status: 200 }) : errorJson(404, `blob "${digest}" not found`);
      // A blob it has already: 200 at once, its body never read.
      if (blobs.has(name)) return new Response(null, { status: 200 });
      const hasher = new Bun.CryptoHasher("sha256");
      let size = 0;
      if (req.body)
        for await (const chunk of req.body) {
          size += chunk.byteLength;
          hasher.update(chunk);
        }
      if (rec) rec.bodySize = size;
      const got = `sha256:${hasher.digest("hex")}`;
      if (got !== name) return errorJson(400, `digest mismatch, expected "${digest}", got "${got}"`);
      blobs.add(name);
      return new Response(null, { status: 201 });
    }

    const { size, json, refused } = method === "GET" || method === "HEAD" ? { size: 0, json: undefined } : await readBody(req);
    if (rec) {
      rec.bodySize = size;
      if (json !== undefined) rec.json = json;
    }
    const body = json ?? {};
    // A body the kind's parser refuses is its server's 400 on the routes that read JSON (Go: "invalid character", FastAPI:
    // json_invalid, llama.cpp: "parse error").
    if (refused !== undefined && (INFERENCE_ROUTE.test(path) || path === "/completion")) return errorJson(400, `the body is not JSON to this server: ${refused}`);
    // The kind's own routes (llama.cpp /health, /props, /slots; vLLM /metrics; LM Studio /api/v1/models …) first.
    const own = FAKE_KIND_ROUTES[options.kind]?.(method, path, { options, concurrency });
    if (own) return own;
    const inference = INFERENCE_ROUTE.test(path);
    if (inference && options.failWith503) return errorJson(503, "server busy, please try again.  maximum pending requests exceeded");

    if (options.kind === "ollama") {
      switch (path) {
        case "/":
          return new Response("Ollama is running", { headers: { "content-type": "text/plain; charset=utf-8" } });
        case "/api/version":
          return Response.json({ version: options.version });
        case "/api/tags":
          return Response.json({ models: options.models.map(tagObject) });
        case "/api/ps":
          return Response.json({ models: options.loaded.map((m) => ({ ...tagObject(m), expires_at: now(), size_vram: 1 })) });
        case "/api/show":
          if (!hasModel(body.model ?? body.name)) return errorJson(404, `model '${body.model ?? body.name}' not found`);
          return Response.json({
            modelfile: `FROM ${body.model}`,
            parameters: "",
            template: "{{ .Prompt }}",
            details: tagObject(body.model).details,
            model_info: { "general.architecture": "llama" },
            capabilities: ["completion"],
          });
        case "/api/chat":
        case "/api/generate": {
          if (!hasModel(body.model)) return errorJson(404, `model "${body.model}" not found, try pulling it first`);
          const chat = path === "/api/chat";
          const model = body.model as string;
          const n = tokensFor(body);
          if (body.stream === false) {
            if (!(await waitGeneration(req, path, n))) return errorJson(500, "generation aborted");
            const base = { model, created_at: now(), done: true, done_reason: "stop", ...doneStats(n) };
            return Response.json(chat ? { ...base, message: { role: "assistant", content: answer(n) } } : { ...base, response: answer(n), context: [1, 2, 3] });
          }
          const line = (i: number) =>
            enc.encode(
              JSON.stringify(
                chat
                  ? { model, created_at: now(), message: { role: "assistant", content: tokenText(i) }, done: false }
                  : { model, created_at: now(), response: tokenText(i), done: false },
              ) + "\n",
            );
          const last = chat
            ? { model, created_at: now(), message: { role: "assistant", content: "" }, done: true, done_reason: "stop", ...doneStats(n) }
            : { model, created_at: now(), response: "", done: true, done_reason: "stop", context: [1, 2, 3], ...doneStats(n) };
          return tokenStream(req, path, n, line, [enc.encode(JSON.stringify(last) + "\n")]);
        }
        case "/api/embed": {
          if (!hasModel(body.model)) return errorJson(404, `model "${body.model}" not found, try pulling it first`);
          const inputs = Array.isArray(body.input) ? body.input : [body.input];
          return Response.json({ model: body.model, embeddings: inputs.map(() => [0.1, 0.2, 0.3]), total_duration: 1000, prompt_eval_count: 3 });
        }
        case "/api/embeddings":
          if (!hasModel(body.model)) return errorJson(404, `model "${body.model}" not found, try pulling it first`);
          return Response.json({ embedding: [0.1, 0.2, 0.3] });
        case "/api/create": {
          // Ollama opens each blob the maps name (convertModelFromFiles); a model made from files can then run.
          if (options.blobStore)
            for (const field of ["files", "adapters", "draft_files"]) {
              const map = topLevel(body, field);
              if (map === undefined || map === null) continue;
              for (const d of typeof map === "object" ? Object.values(map) : [map])
                if (typeof d !== "string" || !BLOB_DIGEST.test(d) || !blobs.has(d.replace("-", ":"))) return errorJson(400, `open blobs/${String(d)}: no such file or directory`);
            }
          const created = topLevel(body, "model") || topLevel(body, "name");
          if (topLevel(body, "files") && typeof created === "string" && !listed(created)) options.models.push(created);
          return new Response(enc.encode(JSON.stringify({ status: "success" }) + "\n"), { headers: NDJSON_HEADERS });
        }
        case "/api/pull":
        case "/api/push":
          return new Response(enc.encode(JSON.stringify({ status: "success" }) + "\n"), { headers: NDJSON_HEADERS });
        case "/api/copy":
        case "/api/delete":
          return new Response(null, { status: 200 });
      }
    }
    // llama.cpp serves its OpenAI routes without /v1 too, LM Studio under /api/v0 (its REST API's OpenAI-shaped routes).
    if ((options.kind === "llamacpp" && /^\/(chat\/completions|completions|embeddings|rerank)$/.test(path)) || (options.kind === "lmstudio" && /^\/api\/v0\/(chat\/completions|completions|embeddings)$/.test(path)))
      path = `/v1${path.replace("/api/v0", "")}`;
    // llama.cpp's own /completion: n_predict (or max_tokens), each event with the running tokens_predicted, the last with
    // "stop": true and its timings; no [DONE].
    if (options.kind === "llamacpp" && path === "/completion" && method === "POST") {
      const n = tokensFor(body);
      const event = (o: unknown) => enc.encode(`data: ${JSON.stringify(o)}\n\n`);
      const last = { index: 0, content: "", tokens: [], id_slot: 0, stop: true, model: options.models[0], tokens_predicted: n, tokens_evaluated: 7, stop_type: "eos", timings: { prompt_n: 7, predicted_n: n } };
      if (body.stream !== true) {
        if (!(await waitGeneration(req, path, n))) return Response.json({ error: { code: 500, message: "generation aborted" } }, { status: 500 });
        return Response.json({ ...last, content: answer(n) });
      }
      return tokenStream(req, path, n, (i) => event({ index: 0, content: tokenText(i), tokens: [], stop: false, id_slot: 0, tokens_predicted: i + 1, tokens_evaluated: 7 }), [event(last)]);
    }
    // LM Studio's own chat (its v1 REST API): max_output_tokens; the answer's stats carry its counts; streamed, named
    // events ending with chat.end, which holds the whole answer.
    if (options.kind === "lmstudio" && path === "/api/v1/chat" && method === "POST") {
      const n = tokensFor({ max_tokens: body.max_output_tokens });
      const result = { model_instance_id: body.model, output: [{ type: "message", content: answer(n) }], stats: { input_tokens: 7, total_output_tokens: n, reasoning_output_tokens: 0, tokens_per_second: 50, time_to_first_token_seconds: 0.1 } };
      if (body.stream !== true) {
        if (!(await waitGeneration(req, path, n))) return Response.json({ error: { message: "generation aborted" } }, { status: 500 });
        return Response.json(result);
      }
      const event = (type: string, o: object) => enc.encode(`event: ${type}\ndata: ${JSON.stringify({ type, ...o })}\n\n`);
      return tokenStream(req, path, n, (i) => event("message.delta", { content: tokenText(i) }), [event("message.end", {}), event("chat.end", { result })]);
    }
    // Served as the kind's table says, from the release it names on (an Ollama before 0.14 answers /v1/messages 404).
    if (path === "/v1/messages" && servesNatively(options.kind, "anthropic", options.version)) return anthropicMessages(dialects, req, body);
    if (path === "/v1/responses" && servesNatively(options.kind, "responses", options.version)) return openAiResponses(dialects, req, body);

    switch (path) {
      case "/v1/models":
        return Response.json({ object: "list", data: options.models.map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "library" })) });
      case "/v1/chat/completions":
      case "/v1/completions": {
        if (!hasModel(body.model)) return Response.json({ error: { message: `model "${body.model}" not found`, type: "invalid_request_error", code: "model_not_found" } }, { status: 404 });
        const chat = path === "/v1/chat/completions";
        const call = chat ? await chatToolCall(dialects, req, body) : null;
        if (call) return call;
        const model = body.model as string;
        const n = tokensFor(body);
        const id = `${chat ? "chatcmpl" : "cmpl"}-${Math.floor(Math.random() * 1e9)}`;
        const created = Math.floor(Date.now() / 1000);
        const usage = { prompt_tokens: 7, completion_tokens: n, total_tokens: 7 + n };
        // A thinking model's reasoning, in the kind's field, unless the request switched its thinking off.
        const thinks = FAKE_KIND_THINKING[options.kind];
        const thought = chat && options.reasoning && thinks && !thinks.off(body) ? { [thinks.field]: options.reasoning } : {};
        if (!topLevel(body, "stream")) {
          if (!(await waitGeneration(req, path, n))) return Response.json({ error: { message: "generation aborted" } }, { status: 500 });
          return Response.json(
            chat
              ? { id, object: "chat.completion", created, model, system_fingerprint: "fp_ollama", choices: [{ index: 0, message: { role: "assistant", ...thought, content: answer(n) }, finish_reason: "stop" }], usage, ...FAKE_KIND_CHAT_EXTRAS[options.kind]?.(body) }
              : { id, object: "text_completion", created, model, system_fingerprint: "fp_ollama", choices: [{ index: 0, text: answer(n), finish_reason: "stop" }], usage },
          );
        }
        const chunk = (delta: string | null, finish: string | null) =>
          chat
            ? { id, object: "chat.completion.chunk", created, model, system_fingerprint: "fp_ollama", choices: [{ index: 0, delta: delta === null ? {} : { role: "assistant", content: delta }, finish_reason: finish }] }
            : { id, object: "text_completion", created, model, system_fingerprint: "fp_ollama", choices: [{ index: 0, text: delta ?? "", finish_reason: finish }] };
        const sse = (o: unknown) => enc.encode(`data: ${JSON.stringify(o)}\n\n`);
        const final = [sse(chunk(null, "stop"))];
        if ((topLevel(body, "stream_options") as { include_usage?: unknown } | undefined)?.include_usage) final.push(sse({ ...chunk(null, null), choices: [], usage }));
        final.push(enc.encode("data: [DONE]\n\n"));
        const reasoning = Object.keys(thought).length ? sse({ ...chunk(null, null), choices: [{ index: 0, delta: { role: "assistant", ...thought }, finish_reason: null }] }) : null;
        const role = chat && options.roleChunk ? sse({ ...chunk(null, null), choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] }) : null;
        const first = [role, reasoning].filter((c) => c !== null);
        return tokenStream(req, path, n, (i) => (i === 0 && first.length ? Buffer.concat([...first, sse(chunk(tokenText(i), null))]) : sse(chunk(tokenText(i), null))), final);
      }
      case "/v1/rerank":
        // llama.cpp's and vLLM's rerank: the documents by relevance, and the prompt tokens it read.
        if (options.kind !== "llamacpp" && options.kind !== "vllm") break;
        return Response.json({ id: "rerank-1", model: body.model, results: (body.documents ?? []).map((_: unknown, index: number) => ({ index, relevance_score: 0.5 })), usage: { prompt_tokens: 11, total_tokens: 11 } });
      case "/v1/embeddings": {
        const inputs = Array.isArray(body.input) ? body.input : [body.input];
        // OpenAI's API reference: encoding_format "float" (the default) or "base64", the little-endian float32 bytes
        // (the openai SDK asks base64 unless told otherwise, and decodes it); `dimensions` shortens the vectors.
        const vector = [0.1, 0.2, 0.3, 0.4].slice(0, typeof body.dimensions === "number" ? body.dimensions : 3);
        const embedding = body.encoding_format === "base64" ? Buffer.from(new Float32Array(vector).buffer).toString("base64") : vector;
        return Response.json({
          object: "list",
          data: inputs.map((_: unknown, index: number) => ({ object: "embedding", index, embedding })),
          model: body.model,
          usage: { prompt_tokens: 3, total_tokens: 3 },
        });
      }
    }
    return new Response("404 page not found", { status: 404, headers: { "content-type": "text/plain" } });
  }

  const server: Server<undefined> = Bun.serve({
    hostname: opts.hostname ?? "127.0.0.1",
    port: opts.port ?? 0,
    idleTimeout: 0,
    // Like Ollama: blob uploads of several GB are accepted.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    fetch: (req, srv) => handle(req, new URL(req.url), options.record ? (srv.requestIP(req)?.port ?? 0) : 0),
    // A deliberate mid-stream death (dieAfterTokens) lands here; keep it quiet.
    error: () => new Response(null, { status: 500 }),
  });

  return {
    url: `http://${(opts.hostname ?? "127.0.0.1").includes(":") ? `[${opts.hostname}]` : (opts.hostname ?? "127.0.0.1")}:${server.port}`,
    port: server.port!,
    requests,
    aborts,
    concurrency,
    options,
    blobs,
    setHealthy(h) {
      healthy = h;
    },
    waitForAborts(n, timeoutMs = 5000) {
      if (aborts.length >= n) return Promise.resolve(aborts);
      return new Promise((resolve, reject) => {
        const w = { n, resolve: () => (clearTimeout(t), resolve(aborts)) };
        const t = setTimeout(() => {
          abortWaiters.splice(abortWaiters.indexOf(w), 1);
          reject(new Error(`fake upstream saw ${aborts.length} aborts, expected ${n}`));
        }, timeoutMs);
        abortWaiters.push(w);
      });
    },
    async stop() {
      await server.stop(true);
    },
  };
}

if (import.meta.main) {
  const { parseArgs } = await import("node:util");
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "0" },
      tokens: { type: "string", default: "5" },
      "delay-ms": { type: "string", default: "0" },
      models: { type: "string" },
      kind: { type: "string", default: "ollama" },
      slots: { type: "string", default: "0" },
      version: { type: "string" },
      record: { type: "boolean", default: false },
    },
  });
  const fake = await startFakeOllama({
    port: Number(values.port),
    tokens: Number(values.tokens),
    tokenDelayMs: Number(values["delay-ms"]),
    models: values.models?.split(","),
    kind: values.kind as KindName,
    slots: Number(values.slots),
    version: values.version,
    record: values.record,
  });
  console.log(`fake-ollama: listening url=${fake.url}`);
  const bye = () => void fake.stop().then(() => process.exit(0));
  process.on("SIGTERM", bye);
  process.on("SIGINT", bye);
}
