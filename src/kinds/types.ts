// What a kind of upstream server declares: how it is probed, where its models and load are read, which dialects it speaks.
// Kind modules are data plus small pure readers: they import nothing outside src/kinds, so every layer (config, core,
// broker, the page) may use them.

/**
 * Which of the names an upstream gives (its models, its version) are taken: `status`, `models`, the dashboard and
 * notifications show them, so one holding a control character (a terminal escape sequence, a line break), a
 * bidirectional override, or of absurd length (megabytes) is dropped rather than shown or routed to; no model server
 * names a model (or a version) so.
 */
export const MAX_MODEL_NAME = 1024;
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

export function listedName(n: unknown): n is string {
  return typeof n === "string" && n.length > 0 && n.length <= MAX_MODEL_NAME && !UNPRINTABLE.test(n);
}

/** The request dialects a broker client may speak: Ollama's API, OpenAI chat/completions, Anthropic Messages, OpenAI Responses. */
export type Dialect = "ollama" | "openai" | "anthropic" | "responses";

/** What a server says about its load; null where it does not say. */
export interface Capacity {
  /** Requests it runs at once (llama.cpp slots, LM Studio's parallel). */
  slots: number | null;
  /** Requests it is running now. */
  busy: number | null;
  /** Requests it holds in its own queue. */
  waiting: number | null;
}

/** What one read of a server found (each field only when that read tells it). */
export interface Reading {
  version?: string | null;
  /** Model names as clients must send them. */
  models?: string[];
  /** Models in memory now: a request for one starts without a load. */
  loaded?: string[];
  capacity?: Partial<Capacity>;
}

/** One GET the health check makes. */
export interface Read {
  path: string;
  /** How the body is read: JSON, or text (Prometheus metrics, an empty health answer). */
  as: "json" | "text";
  /**
   * Required reads are the probe: all failing → down, some failing → degraded. Optional reads (loaded models, load)
   * never hold the check up nor change its state; a server without the route simply does not tell.
   */
  required: boolean;
  /** What this read tells (docs/broker.md's kinds table is rendered from it). */
  tells: readonly ("health" | "version" | "models" | "loaded" | "capacity")[];
  /** Which fields of the answer are read, for the docs (e.g. "total_slots, build_info"). */
  fields?: string;
  /** The body → what it tells; throws when the body says the server is not healthy. */
  apply(body: unknown): Reading;
}

/** Where a model list comes from, in which shape: the broker's merged listings convert the shape. */
export interface ListSource {
  path: string;
  /** "ollama": an /api/tags or /api/ps body; "openai": a /v1/models body. */
  shape: "ollama" | "openai";
}

/** Sampling options of Ollama's `options` that some servers' chat completions take under the same name (beyond OpenAI's API). */
export type SamplerOption = "top_k" | "min_p" | "repeat_penalty" | "typical_p";
/** OpenAI's sampling fields of a chat completion, which a model may refuse (kindModule.refusedSampling). */
export type SamplingField = "temperature" | "top_p" | "presence_penalty" | "frequency_penalty";

/**
 * The chat completion fields that switch a model's thinking on or off on a server of some kind (Ollama's `think: true`
 * or `false`): variables of its Jinja chat template, or a `reasoning_effort` of "none".
 */
export interface ThinkingFields {
  chat_template_kwargs?: Readonly<Record<string, boolean>>;
  reasoning_effort?: "none";
}

/** OpenAI's chat completion fields that ask for more in the answer, which a model may refuse (kindModule.refusedOutputs). */
export type OutputField = "logprobs" | "top_logprobs";

/** A capability in Ollama's words (its /api/show `capabilities`) beyond "completion", which every chat model has. */
export type ModelCapability = "vision" | "tools" | "thinking" | "insert" | "embedding";

/**
 * What a server tells of one model beyond its id, from its /v1/models entry or the kind's showRead (Ollama's /api/show
 * is answered from it); absent: not told.
 */
export interface ModelFacts {
  /** Parameters in the model. */
  parameterCount?: number;
  /** The context window the server runs the model with, in tokens. */
  contextLength?: number;
  /** Capabilities the server states the model has (only those it states). */
  capabilities?: readonly ModelCapability[];
}

/**
 * A GET the broker makes beside the model listing when it answers Ollama's /api/show itself (llama.cpp's /props): what
 * the server says of the model it runs that its listing does not. Its failure never fails the show.
 */
export interface ShowRead {
  /** Path and query for a model, as the upstream names it. */
  target(model: string): string;
  /** Which fields of the answer are read, for the docs. */
  fields: string;
  /** The body → the facts it tells; never throws (a field it cannot read is not told). */
  facts(body: unknown): ModelFacts;
}

export interface KindModule {
  /** The server, as people call it. */
  label: string;
  /** One line for the config reference and the dashboard. */
  summary: string;
  /** Where the server listens by default. */
  defaultUrl: string;
  /** The health check's reads (required first). */
  reads: readonly Read[];
  /**
   * Dialects the server speaks itself: requests in them pass through; others are translated or refused. `{ since }`: only
   * from that release on (its version read), an older one answering 404; it is sent the translation instead, as a server
   * without the route (an unknown version is taken to serve it).
   */
  dialects: Readonly<Partial<Record<Dialect, true | { since: string }>>>;
  /**
   * Ollama `options` its /v1/chat/completions takes under the same name (its own extensions to OpenAI's API): sent when
   * an Ollama /api/chat or /api/generate is translated for it (none: OpenAI's API refuses fields it does not know).
   */
  samplerOptions?: readonly SamplerOption[];
  /**
   * The field a translated chat completion carries its generation limit in, for a model (none: "max_tokens", which every
   * OpenAI-compatible server reads; OpenAI's reasoning models refuse it and take only "max_completion_tokens").
   */
  limitField?(model: string): "max_tokens" | "max_completion_tokens";
  /**
   * Whether a translated chat completion may carry `reasoning_effort` for a model (none: yes; a server that does not
   * reason ignores it). OpenAI's own models that do not reason refuse it with a 400, which would fail a Claude Code
   * call asking for thinking on gpt-4o, so it is left out for them, as the budget's thinking is only a hint.
   */
  takesReasoningEffort?(model: string): boolean;
  /**
   * The sampling fields a translated chat completion leaves out for a model (none: every one passes). OpenAI's reasoning
   * models refuse temperature (but 1), top_p and the penalties with a 400; Claude Code and the other clients send
   * temperature, a hint the model cannot take, so it is left out for them as reasoning_effort is for the others.
   */
  refusedSampling?(model: string): readonly SamplingField[];
  /**
   * What a translated chat completion carries to switch thinking on or off (Ollama's `think: true`/`false`) for a model
   * (none: nothing, the model's own default: no switch every server of the kind reads).
   */
  thinking?(on: boolean, model: string): ThinkingFields;
  /**
   * The fields a translated chat completion may not carry for a model because it refuses them and they ask for something
   * back (OpenAI's reasoning models: logprobs and top_logprobs): the request is a 400 naming them before any upstream is
   * called, rather than the field left out (the client would not get what it asked for) or the upstream's own 400.
   */
  refusedOutputs?(model: string): readonly OutputField[];
  /** What its /v1/models entry of a model tells beyond OpenAI's fields (none: nothing). */
  modelFacts?(entry: Record<string, unknown>): ModelFacts;
  /** Read beside the listing for Ollama's /api/show (none: the listing alone); its facts win over the entry's. */
  showRead?: ShowRead;
  /** Its models in the merged /api/tags, /api/ps (null: it names no loaded models there) and /v1/models. */
  listing: { tags: ListSource; ps: ListSource | null; openai: ListSource };
  /** What to tell the user when the connection is refused (null: the generic advice). */
  refusedHint: string | null;
  /** The environment variable that moves its server to another address (Ollama's OLLAMA_HOST), which doctor reads for a fix; none: it has none. */
  hostEnv?: string;
  /**
   * Whether it answers a request for a model it does not have with an error (404), rather than running what it runs
   * whatever the request names: llama.cpp with one model only echoes "model", and a generic OpenAI-compatible server
   * may do the same. The router never sends an upstream that does not check a model its list does not name.
   */
  checksModelName: boolean;
}

/** An OpenAI /v1/models list: where every OpenAI-compatible server names its models. */
export const OPENAI_MODELS: ListSource = { path: "/v1/models", shape: "openai" };

/** The `version` string of a JSON body (Ollama's /api/version, vLLM's /version); null when it has none. */
export function versionField(body: unknown): Reading {
  const v = (body as { version?: unknown } | null)?.version;
  return { version: listedName(v) ? v : null };
}

/** Model ids from an OpenAI /v1/models body. */
export function openAiIds(body: unknown): string[] {
  const data = (body as { data?: unknown } | null)?.data;
  return Array.isArray(data) ? data.map((m: { id?: unknown }) => m?.id).filter((n): n is string => typeof n === "string") : [];
}

/** Names from an Ollama /api/tags or /api/ps body (`name`, else `model`). */
export function ollamaNames(body: unknown): string[] {
  const models = (body as { models?: unknown } | null)?.models;
  return Array.isArray(models) ? models.map((m: { name?: unknown; model?: unknown }) => m?.name ?? m?.model).filter((n): n is string => typeof n === "string") : [];
}

/**
 * The sum of one metric's samples in a Prometheus text exposition (over every label set, e.g. one per model), or null
 * when the metric is absent.
 */
export function promSum(text: string, metric: string): number | null {
  let sum: number | null = null;
  for (const line of text.split("\n")) {
    if (!line.startsWith(metric)) continue;
    const rest = line.slice(metric.length);
    if (rest[0] !== "{" && rest[0] !== " ") continue;
    const value = Number(rest.slice(rest[0] === "{" ? rest.lastIndexOf("}") + 1 : 0).trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}
