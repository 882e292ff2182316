// An Anthropic Messages request rewritten as an OpenAI chat completions request, for upstreams without /v1/messages.
import { HttpError } from "../../../core/http-error.ts";
import type { AnthropicBlock, AnthropicMessage, AnthropicRequest, AnthropicTool, AnthropicToolChoice, ChatMessage, ChatPart, ChatRequest, ChatToolCall } from "./types.ts";

const bad = (message: string) => new HttpError("bad_request", message);

/** A system prompt as Anthropic takes it (a string, or text blocks) as one string. */
function systemText(system: AnthropicRequest["system"]): string {
  if (typeof system === "string") return system;
  if (!Array.isArray(system)) throw bad('"system" must be a string or an array of text blocks');
  return system.map((b, i) => {
    if (b?.type !== "text" || typeof b.text !== "string") throw bad(`"system[${i}]" must be a text block ({"type":"text","text":"…"})`);
    return b.text;
  }).join("\n");
}

/** An image block as an image_url part: base64 data becomes a data: URL, a URL stays one. */
function imagePart(b: Extract<AnthropicBlock, { type: "image" }>, where: string): ChatPart {
  const s = b.source;
  if (s?.type === "base64" && typeof s.data === "string" && typeof s.media_type === "string") return { type: "image_url", image_url: { url: `data:${s.media_type};base64,${s.data}` } };
  if (s?.type === "url" && typeof s.url === "string") return { type: "image_url", image_url: { url: s.url } };
  throw bad(`${where}: an image's source must be {"type":"base64","media_type","data"} or {"type":"url","url"}`);
}

/** A document block whose text the model can read: plain text sources only (a PDF needs Anthropic's own parser). */
function documentText(b: Extract<AnthropicBlock, { type: "document" }>, where: string): string {
  if (b.source?.type === "text" && typeof b.source.data === "string") return b.title ? `${b.title}\n\n${b.source.data}` : b.source.data;
  throw bad(`${where}: a document of source type "${b.source?.type}" cannot be translated for an OpenAI-compatible upstream; send its text as a text block (or a document with {"type":"text"} source)`);
}

/** The parts of a user turn or a tool result: text, images and text documents. */
function parts(blocks: AnthropicBlock[], where: string): ChatPart[] {
  const out: ChatPart[] = [];
  blocks.forEach((b, i) => {
    const at = `${where}[${i}]`;
    if (b?.type === "text") out.push({ type: "text", text: String(b.text ?? "") });
    else if (b?.type === "image") out.push(imagePart(b, at));
    else if (b?.type === "document") out.push({ type: "text", text: documentText(b, at) });
    // Thinking is the model's own scratch work of an earlier turn: a model without it has nothing to read there.
    else if (b?.type === "thinking" || b?.type === "redacted_thinking") return;
    else throw bad(`${at}: a block of type "${(b as { type?: unknown })?.type}" is not allowed here`);
  });
  return out;
}

/** Text-only content as one string (every OpenAI-compatible server reads that); parts only when an image is among them. */
function userContent(p: ChatPart[]): string | ChatPart[] {
  return p.every((x) => x.type === "text") ? p.map((x) => (x as { text: string }).text).join("\n") : p;
}

/** A tool's result: its text for the role "tool" message; its images, which that message cannot carry, for a user turn after it. */
function toolResult(b: Extract<AnthropicBlock, { type: "tool_result" }>, where: string): { text: string; images: ChatPart[] } {
  if (typeof b.tool_use_id !== "string") throw bad(`${where}: a tool_result needs its "tool_use_id"`);
  const c = b.content;
  const p = c === undefined ? [] : typeof c === "string" ? [{ type: "text" as const, text: c }] : parts(Array.isArray(c) ? c : [], `${where}.content`);
  const text = p.filter((x) => x.type === "text").map((x) => (x as { text: string }).text).join("\n");
  return { text: b.is_error ? `Error: ${text}` : text, images: p.filter((x) => x.type === "image_url") };
}

/** One Anthropic turn as the chat messages it becomes (a user turn with tool results becomes "tool" messages first). */
function turn(m: AnthropicMessage, i: number): ChatMessage[] {
  const where = `messages[${i}]`;
  if (m?.role !== "user" && m?.role !== "assistant") throw bad(`${where}.role must be "user" or "assistant"`);
  if (typeof m.content === "string") return [{ role: m.role, content: m.content }];
  if (!Array.isArray(m.content)) throw bad(`${where}.content must be a string or an array of content blocks`);
  if (m.role === "assistant") {
    let text = "";
    const calls: ChatToolCall[] = [];
    m.content.forEach((b, j) => {
      if (b?.type === "text") text += b.text;
      else if (b?.type === "tool_use") calls.push({ id: b.id, type: "function", function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } });
      else if (b?.type !== "thinking" && b?.type !== "redacted_thinking") throw bad(`${where}.content[${j}]: a block of type "${(b as { type?: unknown })?.type}" is not allowed in an assistant turn`);
    });
    return [calls.length ? { role: "assistant", content: text || null, tool_calls: calls } : { role: "assistant", content: text }];
  }
  // A user turn: tool results answer the assistant's calls, so they come first (OpenAI wants them right after the call).
  const out: ChatMessage[] = [];
  const rest: AnthropicBlock[] = [];
  const images: ChatPart[] = [];
  m.content.forEach((b, j) => {
    if (b?.type !== "tool_result") return void rest.push(b);
    const r = toolResult(b, `${where}.content[${j}]`);
    out.push({ role: "tool", tool_call_id: b.tool_use_id, content: r.text });
    images.push(...r.images);
  });
  const p = [...images, ...parts(rest, `${where}.content`)];
  if (p.length || out.length === 0) out.push({ role: "user", content: userContent(p) });
  return out;
}

/** Client tools as functions; Anthropic's server tools (web search, code execution…) exist only at Anthropic and are left out. */
function tools(list: AnthropicTool[]): ChatRequest["tools"] {
  if (!Array.isArray(list)) throw bad('"tools" must be an array');
  const out = list
    .filter((t) => t?.type === undefined || t.type === "custom")
    .map((t, i) => {
      if (typeof t.name !== "string" || t.name === "") throw bad(`tools[${i}] needs a "name"`);
      return { type: "function" as const, function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.input_schema ?? { type: "object", properties: {} }, ...(t.strict === true ? { strict: true } : {}) } };
    });
  return out.length ? out : undefined;
}

function toolChoice(c: AnthropicToolChoice): ChatRequest["tool_choice"] {
  switch (c?.type) {
    case "auto":
      return "auto";
    case "any":
      return "required";
    case "none":
      return "none";
    case "tool":
      return { type: "function", function: { name: c.name } };
  }
  throw bad('"tool_choice.type" must be "auto", "any", "tool" or "none"');
}

/**
 * Structured outputs (output_config.format, or the beta's top-level output_format) as a strict json_schema
 * response_format: Anthropic's are constrained decoding too, and the SDK's messages.parse() reads the text as JSON.
 */
function responseFormat(req: AnthropicRequest): ChatRequest["response_format"] | undefined {
  const f = req.output_config?.format ?? req.output_format;
  if (f === undefined || f === null) return undefined;
  if (f?.type !== "json_schema" || !f.schema || typeof f.schema !== "object") throw bad('"output_config.format" must be {"type":"json_schema","schema":{…}}');
  return { type: "json_schema", json_schema: { name: "output", schema: f.schema, strict: true } };
}

/** output_config.effort → reasoning_effort: the same levels; Claude's "max" is OpenAI's highest every reasoning model takes. */
const EFFORT: ReadonlyMap<string, NonNullable<ChatRequest["reasoning_effort"]>> = new Map([
  ["low", "low"],
  ["medium", "medium"],
  ["high", "high"],
  ["max", "high"],
]);

/** A thinking budget → reasoning_effort: the first level whose ceiling the budget is under (Anthropic's least is 1024). */
const BUDGET: readonly [number, NonNullable<ChatRequest["reasoning_effort"]>][] = [
  [4096, "low"],
  [16384, "medium"],
  [Infinity, "high"],
];

/**
 * How much the model is to reason, as OpenAI's chat completions say it (`reasoning_effort`): output_config.effort, else
 * an enabled thinking's budget_tokens. Disabled or adaptive thinking sets none (the model's own default). A model that
 * cannot reason is refused by its server (OpenAI: 400 "Unsupported parameter: 'reasoning_effort'"), which the client
 * reads in Anthropic's shape: what it asked for is not dropped unsaid. Its reasoning comes back as thinking blocks.
 */
function reasoningEffort(req: AnthropicRequest): ChatRequest["reasoning_effort"] {
  const effort = req.output_config?.effort;
  if (effort !== undefined && effort !== null) {
    const level = typeof effort === "string" ? EFFORT.get(effort) : undefined;
    if (!level) throw bad(`"output_config.effort" must be one of ${[...EFFORT.keys()].map((k) => `"${k}"`).join(", ")}`);
    return level;
  }
  const t = req.thinking;
  if (t === undefined || t === null) return undefined;
  if (t?.type === "disabled" || t?.type === "adaptive") return undefined;
  if (t?.type !== "enabled") throw bad('"thinking.type" must be "enabled", "disabled" or "adaptive"');
  if (typeof t.budget_tokens !== "number" || !Number.isFinite(t.budget_tokens)) throw bad('"thinking.budget_tokens" must be a number');
  return BUDGET.find(([ceiling]) => t.budget_tokens < ceiling)![1];
}

/** The chat completions request for an Anthropic Messages request (a 400 HttpError names what is wrong in it). */
export function toChatRequest(req: AnthropicRequest): ChatRequest {
  if (!req || typeof req !== "object") throw bad("the request body must be a JSON object");
  if (!Array.isArray(req.messages)) throw bad('"messages" must be an array of {"role","content"} turns');
  const messages: ChatMessage[] = [];
  if (req.system !== undefined && req.system !== null) {
    const s = systemText(req.system);
    if (s) messages.push({ role: "system", content: s });
  }
  req.messages.forEach((m, i) => messages.push(...turn(m, i)));
  const out: ChatRequest = { model: req.model, messages };
  if (typeof req.max_tokens === "number") out.max_tokens = req.max_tokens;
  if (Array.isArray(req.stop_sequences) && req.stop_sequences.length) out.stop = req.stop_sequences;
  if (typeof req.temperature === "number") out.temperature = req.temperature;
  if (typeof req.top_p === "number") out.top_p = req.top_p;
  if (req.tools !== undefined) {
    const t = tools(req.tools);
    if (t) out.tools = t;
  }
  if (req.tool_choice !== undefined && out.tools) {
    out.tool_choice = toolChoice(req.tool_choice);
    if (req.tool_choice.disable_parallel_tool_use) out.parallel_tool_calls = false;
  }
  if (typeof req.metadata?.user_id === "string") out.user = req.metadata.user_id;
  const format = responseFormat(req);
  if (format) out.response_format = format;
  const effort = reasoningEffort(req);
  if (effort) out.reasoning_effort = effort;
  if (req.stream === true) {
    out.stream = true;
    // Anthropic streams end with the usage; an OpenAI stream has it only when asked.
    out.stream_options = { include_usage: true };
  }
  return out;
}
