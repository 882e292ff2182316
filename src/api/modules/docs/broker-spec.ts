// The broker's Ollama- and OpenAI-compatible API as an OpenAPI 3 document (the shapes from Ollama's and OpenAI's API docs,
// kept minimal), with the key auth and each dialect's error body; served at /api/v1/docs/broker.json next to the control API's.
import { dialectOf, ERROR_CODES, type ErrorCode } from "../../../core/http-error.ts";

type Json = Record<string, unknown>;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const str = (description?: string, extra: Json = {}) => ({ type: "string", ...(description ? { description } : {}), ...extra });
const int = (description?: string) => ({ type: "integer", ...(description ? { description } : {}) });
const num = (description?: string) => ({ type: "number", ...(description ? { description } : {}) });
const bool = (description?: string, dflt?: boolean) => ({ type: "boolean", ...(description ? { description } : {}), ...(dflt === undefined ? {} : { default: dflt }) });
const arr = (items: Json, description?: string) => ({ type: "array", items, ...(description ? { description } : {}) });
const obj = (properties: Record<string, Json>, required: string[] = [], description?: string) => ({
  type: "object",
  properties,
  ...(required.length ? { required } : {}),
  ...(description ? { description } : {}),
});
const stringOrList = (description: string) => ({ oneOf: [{ type: "string" }, { type: "array", items: { type: "string" } }], description });

/** Ollama's timing and token counts, the same on the last chunk of /api/chat and /api/generate. */
const OLLAMA_STATS = {
  done_reason: str("Why generation stopped: stop, length, load.", { example: "stop" }),
  total_duration: int("Nanoseconds for the whole request."),
  load_duration: int("Nanoseconds spent loading the model."),
  prompt_eval_count: int("Tokens in the prompt."),
  prompt_eval_duration: int("Nanoseconds spent on the prompt."),
  eval_count: int("Tokens generated."),
  eval_duration: int("Nanoseconds spent generating."),
};
const MODEL_DETAILS = obj({ format: str(), family: str(), families: arr(str()), parameter_size: str(undefined, { example: "1.2B" }), quantization_level: str(undefined, { example: "Q4_K_M" }) });
const OPTIONS = { type: "object", additionalProperties: true, description: "Model parameters (temperature, num_ctx, seed, top_p, stop, …) as in a Modelfile." };
const KEEP_ALIVE = { oneOf: [{ type: "string" }, { type: "number" }], description: 'How long the model stays loaded after the request ("5m", 0 unloads).' };
const FORMAT = { oneOf: [{ type: "string", enum: ["json"] }, { type: "object" }], description: '"json" or a JSON schema the answer must follow.' };
const USAGE = obj({ prompt_tokens: int(), completion_tokens: int(), total_tokens: int() }, ["prompt_tokens", "total_tokens"]);

/** Anthropic's Messages request, as far as the broker reads it (docs/broker.md, dialects); other fields pass to a native upstream. */
const ANTHROPIC_REQUEST = {
  model: str("A local model, or an alias ([[aliases]]) such as a claude-… name.", { example: "qwen3-coder:30b" }),
  messages: arr(obj({ role: str(undefined, { enum: ["user", "assistant"] }), content: { oneOf: [{ type: "string" }, { type: "array", items: { type: "object", additionalProperties: true } }], description: "Text, or blocks: text, image, tool_use, tool_result, document." } }, ["role", "content"])),
  system: { oneOf: [{ type: "string" }, { type: "array", items: { type: "object", additionalProperties: true } }] },
  tools: arr({ type: "object", additionalProperties: true }, "name, description, input_schema."),
  tool_choice: { type: "object", additionalProperties: true },
};

const SCHEMAS: Record<string, Json> = {
  AnthropicError: obj(
    { type: str(undefined, { enum: ["error"] }), error: obj({ type: str("invalid_request_error, authentication_error, billing_error, permission_error, not_found_error, request_too_large, rate_limit_error, api_error, timeout_error or overloaded_error."), message: str() }, ["type", "message"]) },
    ["type", "error"],
    "Anthropic's error body (on /v1/messages); the stable code is in the x-c2l-error-code header.",
  ),
  MessagesRequest: obj(
    {
      ...ANTHROPIC_REQUEST,
      max_tokens: int(),
      stop_sequences: arr(str()),
      temperature: num(),
      top_p: num(),
      stream: bool("true: server-sent events (message_start, content_block_start|delta|stop, message_delta, message_stop, ping).", false),
    },
    ["model", "messages", "max_tokens"],
  ),
  AnthropicMessage: obj(
    {
      id: str(),
      type: str(undefined, { enum: ["message"] }),
      role: str(undefined, { enum: ["assistant"] }),
      model: str(),
      content: arr({ type: "object", additionalProperties: true }, "Blocks: text, tool_use, thinking."),
      stop_reason: str("end_turn, max_tokens, stop_sequence, tool_use or refusal.", { nullable: true }),
      stop_sequence: str(undefined, { nullable: true }),
      usage: obj({ input_tokens: int(), output_tokens: int() }, ["input_tokens", "output_tokens"]),
    },
    ["id", "type", "role", "content", "usage"],
  ),
  CountTokensRequest: obj(ANTHROPIC_REQUEST, ["model", "messages"]),
  CountTokensResponse: obj({ input_tokens: int("The upstream's count, or the broker's estimate where it has none (docs/broker.md).") }, ["input_tokens"]),
  ResponsesRequest: obj(
    {
      model: str(undefined, { example: "llama3.2:1b" }),
      input: { oneOf: [{ type: "string" }, { type: "array", items: { type: "object", additionalProperties: true } }] },
      instructions: str(),
      max_output_tokens: int(),
      stream: bool("true: server-sent events (response.created, response.output_text.delta, …, response.completed).", false),
      tools: arr({ type: "object", additionalProperties: true }),
    },
    ["model", "input"],
  ),
  Response: obj(
    {
      id: str(),
      object: str(undefined, { enum: ["response"] }),
      status: str(),
      model: str(),
      output: arr({ type: "object", additionalProperties: true }),
      usage: obj({ input_tokens: int(), output_tokens: int(), total_tokens: int() }),
    },
    ["id", "object", "output"],
  ),
  OllamaError: obj({ error: str("One sentence saying what is wrong.") }, ["error"], 'Ollama\'s error body; the stable code is in the x-c2l-error-code header.'),
  OpenAIError: obj(
    { error: obj({ message: str(), type: str("authentication_error, permission_error, not_found_error, rate_limit_error, invalid_request_error or server_error."), code: str("The stable code (docs/errors.md)."), param: { type: "string", nullable: true } }, ["message", "type", "code"]) },
    ["error"],
    "OpenAI's error body.",
  ),
  Message: obj(
    {
      role: str(undefined, { enum: ["system", "user", "assistant", "tool"] }),
      content: str(),
      thinking: str("The model's thinking (thinking models with think: true)."),
      images: arr(str(undefined, { format: "byte" }), "Base64-encoded images (multimodal models)."),
      tool_calls: arr({ type: "object", additionalProperties: true }),
    },
    ["role", "content"],
  ),
  ChatRequest: obj(
    {
      model: str(undefined, { example: "llama3.2:1b" }),
      messages: arr(ref("Message")),
      tools: arr({ type: "object", additionalProperties: true }, "Tools the model may call (JSON schema functions)."),
      format: FORMAT,
      options: OPTIONS,
      stream: bool("false: one JSON object; true (the default): NDJSON, one object per token batch.", true),
      think: bool("Thinking models: return the thinking separately."),
      keep_alive: KEEP_ALIVE,
    },
    ["model", "messages"],
  ),
  ChatResponse: obj({ model: str(), created_at: str(undefined, { format: "date-time" }), message: ref("Message"), done: bool(), ...OLLAMA_STATS }, ["model", "created_at", "done"]),
  GenerateRequest: obj(
    {
      model: str(undefined, { example: "llama3.2:1b" }),
      prompt: str(),
      suffix: str(),
      images: arr(str(undefined, { format: "byte" })),
      system: str(),
      template: str(),
      raw: bool(),
      format: FORMAT,
      options: OPTIONS,
      stream: bool("false: one JSON object; true (the default): NDJSON.", true),
      keep_alive: KEEP_ALIVE,
    },
    ["model"],
  ),
  GenerateResponse: obj({ model: str(), created_at: str(undefined, { format: "date-time" }), response: str(), done: bool(), context: arr(int()), ...OLLAMA_STATS }, ["model", "created_at", "response", "done"]),
  EmbedRequest: obj({ model: str(undefined, { example: "nomic-embed-text" }), input: stringOrList("Text or texts to embed."), truncate: bool(undefined, true), options: OPTIONS, keep_alive: KEEP_ALIVE }, ["model", "input"]),
  EmbedResponse: obj({ model: str(), embeddings: arr(arr(num())), total_duration: int(), load_duration: int(), prompt_eval_count: int() }, ["model", "embeddings"]),
  ModelTag: obj({ name: str(), model: str(), modified_at: str(undefined, { format: "date-time" }), size: int("Bytes."), digest: str(), details: MODEL_DETAILS }, ["name", "model"]),
  TagsResponse: obj({ models: arr(ref("ModelTag")) }, ["models"], "The models of every usable upstream, merged."),
  RunningModel: obj({ name: str(), model: str(), size: int(), digest: str(), details: MODEL_DETAILS, expires_at: str(undefined, { format: "date-time" }), size_vram: int() }, ["name", "model"]),
  PsResponse: obj({ models: arr(ref("RunningModel")) }, ["models"], "Models loaded now, across upstreams."),
  ShowRequest: obj({ model: str(undefined, { example: "llama3.2:1b" }), verbose: bool() }, ["model"]),
  ShowResponse: obj({
    modelfile: str(),
    parameters: str(),
    template: str(),
    details: MODEL_DETAILS,
    model_info: { type: "object", additionalProperties: true },
    capabilities: arr(str(), "completion, tools, vision, embedding, thinking, …"),
  }),
  VersionResponse: obj({ version: str(undefined, { example: "0.6.0" }) }, ["version"]),
  ChatCompletionMessage: obj(
    {
      role: str(undefined, { enum: ["system", "developer", "user", "assistant", "tool"] }),
      content: { oneOf: [{ type: "string" }, { type: "array", items: { type: "object", additionalProperties: true } }], nullable: true, description: "Text, or parts (text and image_url)." },
      name: str(),
      tool_calls: arr({ type: "object", additionalProperties: true }),
      tool_call_id: str(),
    },
    ["role"],
  ),
  ChatCompletionRequest: obj(
    {
      model: str(undefined, { example: "llama3.2:1b" }),
      messages: arr(ref("ChatCompletionMessage")),
      stream: bool("true: server-sent events (chat.completion.chunk), ending with data: [DONE].", false),
      stream_options: obj({ include_usage: bool() }),
      temperature: num(),
      top_p: num(),
      max_tokens: int(),
      max_completion_tokens: int(),
      stop: stringOrList("Sequences that end the answer."),
      seed: int(),
      frequency_penalty: num(),
      presence_penalty: num(),
      response_format: { type: "object", additionalProperties: true, description: '{"type":"json_object"} or {"type":"json_schema",...}' },
      tools: arr({ type: "object", additionalProperties: true }),
      tool_choice: { oneOf: [{ type: "string" }, { type: "object" }] },
    },
    ["model", "messages"],
  ),
  ChatCompletion: obj(
    {
      id: str(),
      object: str(undefined, { enum: ["chat.completion"] }),
      created: int("Unix seconds."),
      model: str(),
      system_fingerprint: str(),
      choices: arr(obj({ index: int(), message: ref("ChatCompletionMessage"), finish_reason: { type: "string", nullable: true, enum: ["stop", "length", "tool_calls", "content_filter", null] } }, ["index", "message"])),
      usage: USAGE,
    },
    ["id", "object", "created", "model", "choices"],
  ),
  CompletionRequest: obj(
    {
      model: str(undefined, { example: "llama3.2:1b" }),
      prompt: stringOrList("The prompt."),
      suffix: str(),
      max_tokens: int(),
      temperature: num(),
      top_p: num(),
      stop: stringOrList("Sequences that end the answer."),
      seed: int(),
      stream: bool("true: server-sent events, ending with data: [DONE].", false),
      stream_options: obj({ include_usage: bool() }),
    },
    ["model", "prompt"],
  ),
  Completion: obj(
    {
      id: str(),
      object: str(undefined, { enum: ["text_completion"] }),
      created: int("Unix seconds."),
      model: str(),
      choices: arr(obj({ index: int(), text: str(), finish_reason: { type: "string", nullable: true } }, ["index", "text"])),
      usage: USAGE,
    },
    ["id", "object", "created", "model", "choices"],
  ),
  EmbeddingsRequest: obj({ model: str(undefined, { example: "nomic-embed-text" }), input: stringOrList("Text or texts to embed."), encoding_format: str(undefined, { enum: ["float", "base64"] }), dimensions: int() }, ["model", "input"]),
  EmbeddingsResponse: obj(
    {
      object: str(undefined, { enum: ["list"] }),
      data: arr(obj({ object: str(undefined, { enum: ["embedding"] }), index: int(), embedding: arr(num()) }, ["object", "index", "embedding"])),
      model: str(),
      usage: obj({ prompt_tokens: int(), total_tokens: int() }),
    },
    ["object", "data", "model"],
  ),
  Model: obj({ id: str(), object: str(undefined, { enum: ["model"] }), created: int(), owned_by: str() }, ["id", "object", "created", "owned_by"]),
  ModelList: obj({ object: str(undefined, { enum: ["list"] }), data: arr(ref("Model")) }, ["object", "data"]),
};

/** The refusals the broker (keys, limits, routing) gives on every route, with when each happens. */
const ERRORS: [ErrorCode, string][] = [
  ["bad_request", "the body is not JSON or misses a required field"],
  ["unauthorized", "a key is required (callers from another machine) or the key is unknown, revoked or expired"],
  ["forbidden", "the key may not use this model (or manage models)"],
  ["host_not_allowed", "the Host header is not one the broker answers (DNS-rebinding guard)"],
  ["origin_not_allowed", "a browser Origin not in [proxy] allowed_origins"],
  ["not_found", "the upstream has no such model (its own answer, passed through as it sent it)"],
  ["payload_too_large", "the body is larger than the broker accepts"],
  ["unsupported_media_type", "the body is compressed (Content-Encoding) where the broker must read it (a key with a model list; /v1/messages, /v1/responses)"],
  ["rate_limited", "the key's requests per minute or tokens per day are spent (Retry-After says when to come back)"],
  ["no_upstream", "no upstream is enabled"],
  ["upstream_error", "every upstream tried failed before answering, or its whole answer could not be translated (over 32 MiB, not JSON)"],
  ["unavailable", "the queue is full or the wait timed out (Retry-After)"],
  ["upstream_timeout", "the upstream did not answer in time"],
];

/** Error responses in the dialect of a path: the status, when, the body schema, and the stable code header. */
function errorResponses(dialect: "ollama" | "openai" | "anthropic"): Record<string, Json> {
  const byStatus = new Map<number, string[]>();
  for (const [code, when] of ERRORS) {
    const status = ERROR_CODES[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), `\`${code}\`: ${when}`]);
  }
  const body = dialect === "ollama" ? "OllamaError" : dialect === "anthropic" ? "AnthropicError" : "OpenAIError";
  return Object.fromEntries(
    [...byStatus].map(([status, whens]) => [
      String(status),
      {
        description: whens.join("; "),
        headers: { "x-c2l-error-code": { description: "The stable error code, whatever the body's shape.", schema: { type: "string" } } },
        content: { "application/json": { schema: ref(body) } },
      },
    ]),
  );
}

interface Route {
  method: "get" | "post";
  path: string;
  summary: string;
  request?: string;
  response: string;
  /** Streamed answer's media type when `stream` is true (Ollama: NDJSON; OpenAI: server-sent events). */
  stream?: "application/x-ndjson" | "text/event-stream";
}

/** Every route the broker documents, in the order Ollama's and OpenAI's docs list them. */
export const BROKER_ROUTES: Route[] = [
  { method: "post", path: "/api/chat", summary: "Chat with a model (Ollama)", request: "ChatRequest", response: "ChatResponse", stream: "application/x-ndjson" },
  { method: "post", path: "/api/generate", summary: "Complete a prompt (Ollama)", request: "GenerateRequest", response: "GenerateResponse", stream: "application/x-ndjson" },
  { method: "post", path: "/api/embed", summary: "Embeddings for one or more texts (Ollama)", request: "EmbedRequest", response: "EmbedResponse" },
  { method: "get", path: "/api/tags", summary: "The models of every usable upstream, merged (Ollama)", response: "TagsResponse" },
  { method: "get", path: "/api/ps", summary: "Models loaded now (Ollama)", response: "PsResponse" },
  { method: "post", path: "/api/show", summary: "A model's details (Ollama; for other kinds from the /v1/models entry, and for llama.cpp also /props: context, vision, tools)", request: "ShowRequest", response: "ShowResponse" },
  { method: "get", path: "/api/version", summary: "The Ollama version (of an Ollama upstream; the broker's own, 0.9.0, when none is enabled)", response: "VersionResponse" },
  { method: "post", path: "/v1/chat/completions", summary: "Chat completions (OpenAI)", request: "ChatCompletionRequest", response: "ChatCompletion", stream: "text/event-stream" },
  { method: "post", path: "/v1/completions", summary: "Text completions (OpenAI, legacy)", request: "CompletionRequest", response: "Completion", stream: "text/event-stream" },
  { method: "post", path: "/v1/embeddings", summary: "Embeddings (OpenAI)", request: "EmbeddingsRequest", response: "EmbeddingsResponse" },
  { method: "get", path: "/v1/models", summary: "The models of every usable upstream (OpenAI)", response: "ModelList" },
  { method: "post", path: "/v1/responses", summary: "Responses (OpenAI): passed through, or translated to chat completions (docs/broker.md)", request: "ResponsesRequest", response: "Response", stream: "text/event-stream" },
  { method: "post", path: "/v1/messages", summary: "Messages (Anthropic): passed through, or translated to chat completions (docs/broker.md)", request: "MessagesRequest", response: "AnthropicMessage", stream: "text/event-stream" },
  { method: "post", path: "/v1/messages/count_tokens", summary: "Count a Messages request's input tokens (Anthropic)", request: "CountTokensRequest", response: "CountTokensResponse" },
];

function operation(r: Route): Json {
  const d = dialectOf(r.path);
  const dialect = d === "anthropic" || d === "openai" ? d : "ollama";
  const ok: Json = { "application/json": { schema: ref(r.response) } };
  const sse = dialect === "anthropic" || r.path === "/v1/responses" ? "event: NAME and data: {event JSON} per event" : "data: {chunk JSON} lines, then data: [DONE]";
  if (r.stream) ok[r.stream] = { schema: r.stream === "text/event-stream" ? str(sse) : ref(r.response) };
  return {
    operationId: `${r.method}${r.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ""))}`,
    tags: [dialect],
    summary: r.summary,
    ...(r.request ? { requestBody: { required: true, content: { "application/json": { schema: ref(r.request) } } } } : {}),
    responses: {
      "200": { description: r.stream ? `The answer: JSON with stream false; ${r.stream} when streaming.` : "The answer.", content: ok },
      ...errorResponses(dialect),
    },
  };
}

/** The broker's address(es) for `servers`: the listen address, a wildcard shown as loopback. */
export function brokerServers(listen: string): { url: string; description: string }[] {
  const local = listen.replace(/^(0\.0\.0\.0|\[::\])(?=:)/, "127.0.0.1");
  return [{ url: `http://${local}`, description: "The broker on this machine ([proxy] listen)" }];
}

export function brokerSpec(opts: { version: string; listen: string }): Json {
  const paths: Record<string, Json> = {};
  for (const r of BROKER_ROUTES) paths[r.path] = { ...(paths[r.path] ?? {}), [r.method]: operation(r) };
  return {
    openapi: "3.0.3",
    info: {
      title: "cloudtolocalllm-tunnel broker (Ollama and OpenAI-compatible API)",
      version: opts.version,
      description:
        "What apps call instead of Ollama: the same routes, routed to the best upstream with failover. Callers on this " +
        "machine need no key; others send an API key (`cloudtolocalllm-tunnel key create NAME`) as `Authorization: Bearer c2l_…` " +
        "or `x-api-key`. Errors come in the caller's dialect: `{\"error\": \"…\"}` on /api/*, OpenAI's `{\"error\": {message, type, code}}` " +
        "on /v1/*, with the stable code in the `x-c2l-error-code` header (docs/errors.md). Through the tunnel the same routes are " +
        "under https://RELAY/t/ID/.",
    },
    servers: brokerServers(opts.listen),
    tags: [
      { name: "ollama", description: "Ollama's API (https://github.com/ollama/ollama/blob/main/docs/api.md)" },
      { name: "openai", description: "OpenAI's API as Ollama serves it (https://platform.openai.com/docs/api-reference)" },
      { name: "anthropic", description: "Anthropic's Messages API (https://docs.anthropic.com/en/api/messages): passed through or translated" },
    ],
    // An empty requirement first: a key is optional for callers on this machine.
    security: [{}, { bearer: [] }, { apiKey: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "An API key (c2l_…) as a bearer token." },
        apiKey: { type: "apiKey", in: "header", name: "x-api-key", description: "An API key (c2l_…) in the x-api-key header." },
      },
      schemas: SCHEMAS,
    },
  };
}
