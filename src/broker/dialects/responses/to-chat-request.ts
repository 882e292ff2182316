// An OpenAI Responses request rewritten as a chat completions request, for upstreams without /v1/responses. Stateless only:
// a request that leans on state OpenAI keeps (previous_response_id, background) is refused, not half-served.
import { HttpError } from "../../../core/http-error.ts";
import type { ChatMessage, ChatPart, ChatRequest, ChatToolCall } from "../chat-types.ts";
import type { InputItem, InputPart, ResponsesRequest, ResponsesTool } from "./types.ts";

const bad = (message: string) => new HttpError("bad_request", message);

/** A message's parts as chat parts: text (input, output, refusal) and images (a URL or a data: URL). */
function parts(content: string | InputPart[], where: string): ChatPart[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  if (!Array.isArray(content)) throw bad(`${where}.content must be a string or an array of parts`);
  return content.map((p, i): ChatPart => {
    const at = `${where}.content[${i}]`;
    if (p?.type === "input_text" || p?.type === "output_text") return { type: "text", text: String(p.text ?? "") };
    if (p?.type === "refusal") return { type: "text", text: String(p.refusal ?? "") };
    if (p?.type === "input_image") {
      if (typeof p.image_url === "string") return { type: "image_url", image_url: { url: p.image_url } };
      throw bad(`${at}: an input_image needs an image_url (a URL or a data: URL); a file_id names a file stored at OpenAI, which an upstream without /v1/responses cannot read`);
    }
    throw bad(`${at}: a part of type "${(p as { type?: unknown })?.type}" cannot be translated for an upstream without /v1/responses`);
  });
}

const text = (p: ChatPart[]) => p.map((x) => (x.type === "text" ? x.text : "")).join("\n");
const onlyText = (p: ChatPart[]) => p.every((x) => x.type === "text");

/** The chat messages for `input`: messages as they are, function calls joined onto the assistant turn, outputs as tool messages. */
function messages(input: ResponsesRequest["input"]): ChatMessage[] {
  if (typeof input === "string") return [{ role: "user", content: input }];
  if (!Array.isArray(input)) throw bad('"input" must be a string or an array of items');
  const out: ChatMessage[] = [];
  input.forEach((item: InputItem, i) => {
    const where = `input[${i}]`;
    const type = item?.type ?? "message";
    if (type === "message") {
      const m = item as Extract<InputItem, { role: string }>;
      const p = parts(m.content, where);
      if (m.role === "system" || m.role === "developer") out.push({ role: "system", content: text(p) });
      else if (m.role === "assistant") out.push({ role: "assistant", content: text(p) });
      else if (m.role === "user") out.push({ role: "user", content: onlyText(p) ? text(p) : p });
      else throw bad(`${where}.role must be "user", "assistant", "system" or "developer"`);
    } else if (type === "function_call") {
      const c = item as Extract<InputItem, { type: "function_call" }>;
      if (typeof c.call_id !== "string" || typeof c.name !== "string") throw bad(`${where}: a function_call needs its "call_id" and "name"`);
      const call: ChatToolCall = { id: c.call_id, type: "function", function: { name: c.name, arguments: typeof c.arguments === "string" ? c.arguments : "{}" } };
      // Calls of one turn follow each other (and the turn's text): one assistant message holds them all.
      const last = out.at(-1);
      if (last?.role === "assistant") (last.tool_calls ??= []).push(call);
      else out.push({ role: "assistant", content: null, tool_calls: [call] });
    } else if (type === "function_call_output") {
      const o = item as Extract<InputItem, { type: "function_call_output" }>;
      if (typeof o.call_id !== "string") throw bad(`${where}: a function_call_output needs its "call_id"`);
      out.push({ role: "tool", tool_call_id: o.call_id, content: typeof o.output === "string" ? o.output : text(parts(o.output, where)) });
    } else if (type === "reasoning") {
      // The model's own reasoning of an earlier turn (often encrypted): nothing another model can read.
      return;
    } else throw bad(`${where}: an item of type "${type}" cannot be translated for an upstream without /v1/responses (it refers to state or tools OpenAI keeps)`);
  });
  return out;
}

/** Function tools as chat functions; OpenAI's hosted tools (web search, file search, code interpreter…) are left out. */
function tools(list: ResponsesTool[]): ChatRequest["tools"] {
  if (!Array.isArray(list)) throw bad('"tools" must be an array');
  const out = list
    .filter((t) => t?.type === "function")
    .map((t, i) => {
      if (typeof t.name !== "string" || t.name === "") throw bad(`tools[${i}] needs a "name"`);
      // strict: the arguments guaranteed to match the schema (chat completions' own default is off, as when absent here).
      return { type: "function" as const, function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters ?? { type: "object", properties: {} }, ...(t.strict === true ? { strict: true } : {}) } };
    });
  return out.length ? out : undefined;
}

function toolChoice(c: NonNullable<ResponsesRequest["tool_choice"]>): ChatRequest["tool_choice"] {
  if (c === "auto" || c === "none" || c === "required") return c;
  if (c?.type === "function" && typeof (c as { name?: unknown }).name === "string") return { type: "function", function: { name: (c as { name: string }).name } };
  return "auto";
}

/** reasoning.effort values chat completions' reasoning_effort takes under the same name. */
const EFFORTS = new Set(["none", "minimal", "low", "medium", "high", "xhigh"]);

/**
 * What `include` asks that a chat completion can give: the output text's log probabilities. The others ask for parts of
 * items a translated response never has (encrypted reasoning, which Codex asks for on every request; hosted tools' results).
 */
const LOGPROBS = "message.output_text.logprobs";

/**
 * reasoning.effort → reasoning_effort, include's logprobs (and top_logprobs) → logprobs and top_logprobs: the chat
 * completion's own fields for them, read back into the response.
 */
function reasoningAndLogprobs(req: ResponsesRequest, out: ChatRequest): void {
  const effort = req.reasoning?.effort;
  if (effort !== undefined && effort !== null) {
    if (typeof effort !== "string" || !EFFORTS.has(effort)) throw bad(`"reasoning.effort" must be one of ${[...EFFORTS].map((e) => `"${e}"`).join(", ")}`);
    out.reasoning_effort = effort as ChatRequest["reasoning_effort"];
  }
  if (req.include !== undefined && req.include !== null) {
    if (!Array.isArray(req.include)) throw bad('"include" must be an array');
    if (req.include.includes(LOGPROBS)) out.logprobs = true;
  }
  if (typeof req.top_logprobs === "number") {
    out.logprobs = true;
    out.top_logprobs = req.top_logprobs;
  }
}

/** The chat completions request for a Responses request (a 400 HttpError names what cannot be translated). */
export function toChatRequest(req: ResponsesRequest): ChatRequest {
  if (!req || typeof req !== "object") throw bad("the request body must be a JSON object");
  if (req.previous_response_id)
    throw bad('"previous_response_id" needs the conversation OpenAI stores; this upstream has no /v1/responses and the broker stores none: send the whole conversation in "input"');
  if (req.background) throw bad('"background" responses are not available through an upstream without /v1/responses');
  if (req.input === undefined) throw bad('"input" is required: a string or an array of items');
  const out: ChatRequest = { model: req.model, messages: [] };
  if (typeof req.instructions === "string" && req.instructions) out.messages.push({ role: "system", content: req.instructions });
  out.messages.push(...messages(req.input));
  if (typeof req.max_output_tokens === "number") out.max_tokens = req.max_output_tokens;
  if (typeof req.temperature === "number") out.temperature = req.temperature;
  if (typeof req.top_p === "number") out.top_p = req.top_p;
  if (typeof req.user === "string") out.user = req.user;
  if (req.tools !== undefined) {
    const t = tools(req.tools);
    if (t) out.tools = t;
  }
  if (req.tool_choice !== undefined && out.tools) out.tool_choice = toolChoice(req.tool_choice);
  if (typeof req.parallel_tool_calls === "boolean" && out.tools) out.parallel_tool_calls = req.parallel_tool_calls;
  const f = req.text?.format;
  if (f?.type === "json_object") out.response_format = { type: "json_object" };
  else if (f?.type === "json_schema") {
    const s = f as { name: string; schema?: unknown; strict?: boolean; description?: string };
    out.response_format = { type: "json_schema", json_schema: { name: s.name, schema: s.schema, ...(s.strict === undefined ? {} : { strict: s.strict }), ...(s.description ? { description: s.description } : {}) } };
  }
  reasoningAndLogprobs(req, out);
  if (req.stream === true) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  return out;
}
