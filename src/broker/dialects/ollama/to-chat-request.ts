// Ollama's /api/chat and /api/generate requests rewritten as OpenAI chat completions, for an upstream without Ollama's API.
import { HttpError } from "../../../core/http-error.ts";
import type { KindModule, SamplerOption } from "../../../kinds/index.ts";
import type { ChatMessage, ChatPart, ChatRequest, ChatToolCall } from "../chat-types.ts";
import type { OllamaChatRequest, OllamaCommon, OllamaGenerateRequest, OllamaMessage } from "./types.ts";

/** The image type of base64 data, from its first bytes (Ollama sends bare base64; a data: URL needs a type). */
const MAGIC: readonly [string, string][] = [
  ["iVBORw0KGgo", "image/png"],
  ["/9j/", "image/jpeg"],
  ["R0lGOD", "image/gif"],
  ["UklGR", "image/webp"],
];

export function imageUrl(b64: string): string {
  if (b64.startsWith("data:")) return b64;
  const type = MAGIC.find(([m]) => b64.startsWith(m))?.[1] ?? "image/png";
  return `data:${type};base64,${b64}`;
}

const bad = (message: string) => new HttpError("bad_request", message);

function userContent(text: string, images: string[] | undefined): string | ChatPart[] {
  if (!images?.length) return text;
  const parts: ChatPart[] = text ? [{ type: "text", text }] : [];
  for (const i of images) {
    if (typeof i !== "string") throw bad("an image must be a base64 string (Ollama's API)");
    parts.push({ type: "image_url", image_url: { url: imageUrl(i) } });
  }
  return parts;
}

/** A tool call's arguments as OpenAI's JSON string (Ollama's are an object). */
const argumentsText = (a: unknown): string => (typeof a === "string" ? a : JSON.stringify(a ?? {}));

/**
 * Ollama's messages as chat messages. Ollama's tool calls may have no id and its tool results name the tool (tool_name)
 * rather than the call: each call gets an id (its own, or one made up) and each result the id of the earliest call not
 * yet answered with that name (or, lacking a name, the earliest not yet answered), as OpenAI needs them paired.
 */
export function chatMessages(messages: OllamaMessage[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  const open: { id: string; name: string }[] = [];
  messages.forEach((m, turn) => {
    if (!m || typeof m !== "object") throw bad(`messages[${turn}] must be an object`);
    const content = typeof m.content === "string" ? m.content : "";
    switch (m.role) {
      case "system":
        out.push({ role: "system", content });
        return;
      case "user":
        out.push({ role: "user", content: userContent(content, m.images) });
        return;
      case "assistant": {
        const calls: ChatToolCall[] = (m.tool_calls ?? []).map((c, i) => {
          const id = c.id ?? `call_${turn}_${i}`;
          open.push({ id, name: c.function?.name ?? "" });
          return { id, type: "function", function: { name: c.function?.name ?? "", arguments: argumentsText(c.function?.arguments) } };
        });
        out.push(calls.length ? { role: "assistant", content: content || null, tool_calls: calls } : { role: "assistant", content });
        return;
      }
      case "tool": {
        let at = m.tool_call_id ? open.findIndex((c) => c.id === m.tool_call_id) : -1;
        if (at < 0 && m.tool_name) at = open.findIndex((c) => c.name === m.tool_name);
        if (at < 0 && !m.tool_call_id) at = open.length ? 0 : -1;
        const id = at >= 0 ? open.splice(at, 1)[0]!.id : (m.tool_call_id ?? `call_${turn}`);
        out.push({ role: "tool", tool_call_id: id, content });
        return;
      }
      default:
        throw bad(`messages[${turn}].role ${JSON.stringify(m.role)} is not one of system, user, assistant, tool`);
    }
  });
  return out;
}

const THINK_LEVELS = new Set(["low", "medium", "high"]);

/**
 * `options` and `format` as chat completion fields. What OpenAI's API has no field for is left out (num_ctx and the
 * server's other settings), but for the sampling options the upstream's kind says its chat completions take (`extra`).
 */
function parameters(req: OllamaCommon, extra: readonly SamplerOption[]): Partial<ChatRequest> {
  const o = req.options && typeof req.options === "object" ? req.options : {};
  const p: Partial<ChatRequest> = {};
  const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  if (num(o.temperature)) p.temperature = o.temperature;
  if (num(o.top_p)) p.top_p = o.top_p;
  if (num(o.seed)) p.seed = o.seed;
  if (num(o.frequency_penalty)) p.frequency_penalty = o.frequency_penalty;
  if (num(o.presence_penalty)) p.presence_penalty = o.presence_penalty;
  for (const k of extra) if (num(o[k])) p[k] = o[k];
  // -1 (until done) and -2 (until the context is full) are Ollama's "no limit".
  if (num(o.num_predict) && o.num_predict >= 0) p.max_tokens = o.num_predict;
  if (typeof o.stop === "string") p.stop = [o.stop];
  else if (Array.isArray(o.stop) && o.stop.length) p.stop = o.stop.filter((s): s is string => typeof s === "string");
  // Log probabilities: chat completions' own fields, read back into Ollama's `logprobs` (the same entries).
  if (req.logprobs === true) p.logprobs = true;
  if (num(req.top_logprobs)) {
    p.logprobs = true;
    p.top_logprobs = req.top_logprobs;
  }
  // A thinking level is chat completions' reasoning_effort; true and false have no field every server reads: each kind
  // says its own switch (withThink).
  if (typeof req.think === "string") {
    if (!THINK_LEVELS.has(req.think)) throw bad(`think must be true, false, "low", "medium" or "high"`);
    p.reasoning_effort = req.think as ChatRequest["reasoning_effort"];
  }
  if (req.format === "json") p.response_format = { type: "json_object" };
  else if (req.format && typeof req.format === "object") p.response_format = { type: "json_schema", json_schema: { name: "response", schema: req.format } };
  else if (req.format !== undefined && req.format !== "") throw bad(`format must be "json" or a JSON schema object`);
  return p;
}

/**
 * Ollama's `think: true` or `false` as the upstream's kind switches a model's thinking (its `thinking`: llama.cpp's and
 * vLLM's chat template variables, LM Studio's reasoning_effort "none"); a kind without one gets nothing.
 */
export function withThink(chat: ChatRequest, think: unknown, kind: Pick<KindModule, "thinking">): ChatRequest {
  if (typeof think !== "boolean" || !kind.thinking) return chat;
  return { ...chat, ...kind.thinking(think, chat.model) };
}

function base(req: OllamaCommon, messages: ChatMessage[], extra: readonly SamplerOption[] = []): ChatRequest {
  if (typeof req.model !== "string" || !req.model) throw bad("model is required");
  // Ollama streams unless told not to; keep_alive has no counterpart and is left out (think true/false: withThink).
  const stream = req.stream !== false;
  return { model: req.model, messages, ...parameters(req, extra), ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) };
}

/** /api/chat as a chat completion; `extra`: the sampling options the upstream takes beyond OpenAI's (its kind's samplerOptions). */
export function chatRequest(req: OllamaChatRequest, extra: readonly SamplerOption[] = []): ChatRequest {
  if (req.messages !== undefined && !Array.isArray(req.messages)) throw bad("messages must be an array");
  const chat = base(req, chatMessages(req.messages ?? []), extra);
  if (Array.isArray(req.tools) && req.tools.length) {
    chat.tools = req.tools.map((t, i) => {
      if (!t?.function?.name) throw bad(`tools[${i}].function.name is required`);
      return { type: "function" as const, function: { name: t.function.name, ...(t.function.description ? { description: t.function.description } : {}), parameters: t.function.parameters ?? { type: "object", properties: {} } } };
    });
  }
  return chat;
}

/**
 * /api/generate as a chat completion: `system` a system message, `prompt` (and `images`) the user's. What only a raw
 * completion can do is refused with a 400 naming it: `raw` (the prompt is not to be templated), `suffix` (fill in the
 * middle), `context` (an earlier answer's token ids) and `template` (the model's template replaced).
 */
export function generateRequest(req: OllamaGenerateRequest, extra: readonly SamplerOption[] = []): ChatRequest {
  for (const field of ["raw", "suffix", "template"] as const) {
    if (req[field]) throw bad(`"${field}" is not supported by this upstream (it serves OpenAI's API, not Ollama's; the broker translates /api/generate to chat completions)`);
  }
  if (Array.isArray(req.context) && req.context.length) throw bad(`"context" is not supported by this upstream (it serves OpenAI's API, not Ollama's); send the conversation to /api/chat instead`);
  if (req.prompt !== undefined && typeof req.prompt !== "string") throw bad("prompt must be a string");
  const messages: ChatMessage[] = [];
  if (typeof req.system === "string" && req.system) messages.push({ role: "system", content: req.system });
  messages.push({ role: "user", content: userContent(req.prompt ?? "", req.images) });
  return base(req, messages, extra);
}

/**
 * Whether the request only asks to load the model (Ollama's docs: an empty `messages`, or an empty `prompt` without
 * images): there is nothing to answer, and Ollama says `"done_reason": "load"`.
 */
export function isLoadRequest(route: "chat" | "generate", req: OllamaChatRequest & OllamaGenerateRequest): boolean {
  if (route === "chat") return Array.isArray(req.messages) ? req.messages.length === 0 : req.messages === undefined;
  return (req.prompt === undefined || req.prompt === "") && !req.images?.length && !req.system;
}

/** A duration Ollama reads as zero: the number 0, or a Go duration string of zeros ("0", "0s", "0m0s"). */
const ZERO_DURATION = /^[+-]?(?:0+(?:\.0*)?(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h)?)+$/;

/**
 * Whether a load request asks to unload the model instead (Ollama's docs: an empty prompt or messages with keep_alive
 * 0; what `ollama stop` sends): OpenAI's API has no unload, and a one-token completion would load it, not unload it.
 */
export function isUnloadRequest(req: OllamaCommon): boolean {
  return isZeroDuration(req.keep_alive);
}

/** Whether Ollama reads a keep_alive value as zero (unload at once). */
export function isZeroDuration(k: unknown): boolean {
  return k === 0 || (typeof k === "string" && ZERO_DURATION.test(k.trim()));
}

/**
 * A load request as a chat completion: one token asked for an empty turn, so a server that loads models on demand (LM
 * Studio's JIT loading, llama-swap) loads it, as Ollama would; the answer is not shown.
 */
export function loadRequest(req: OllamaCommon): ChatRequest {
  return { ...base({ model: req.model, stream: false }, [{ role: "user", content: "" }]), max_tokens: 1 };
}
