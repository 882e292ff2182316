// A whole chat completion rewritten as an OpenAI Responses response object, and the response object a translated stream
// reports in its response.* events (the request's settings echoed, as the Responses API echoes them).
import type { ChatResponse, ChatUsage } from "../chat-types.ts";
import type { OutputItem, ResponseObject, ResponsesRequest, ResponsesUsage } from "./types.ts";

/** An id in the Responses API's style (`resp_…`, `msg_…`, `fc_…`): clients only read them back. */
export const newId = (prefix: string): string => `${prefix}_${crypto.randomUUID().replaceAll("-", "")}`;

/** Characters of reasoning text per token, for the estimate of a server that sends the text but not its count. */
export const REASONING_CHARS_PER_TOKEN = 4;

const count = (n: unknown): number | null => (typeof n === "number" && Number.isSafeInteger(n) && n >= 0 ? n : null);

/**
 * The chat completion's usage in the Responses API's words. The reasoning tokens are the upstream's count
 * (completion_tokens_details.reasoning_tokens: OpenAI, recent vLLM); a server that sends the reasoning text without it
 * (llama.cpp, older vLLM) gets an estimate from that text's length (`reasoningChars`), never over the output tokens.
 */
export function responsesUsage(u: ChatUsage | null | undefined, reasoningChars = 0): ResponsesUsage {
  const input = u?.prompt_tokens ?? 0;
  const output = u?.completion_tokens ?? 0;
  const cached = count(u?.prompt_tokens_details?.cached_tokens) ?? 0;
  const reasoning = count(u?.completion_tokens_details?.reasoning_tokens) ?? Math.min(output, Math.ceil(reasoningChars / REASONING_CHARS_PER_TOKEN));
  return { input_tokens: input, input_tokens_details: { cached_tokens: cached }, output_tokens: output, output_tokens_details: { reasoning_tokens: reasoning }, total_tokens: input + output };
}

/** The response object for `req` with this status, output and usage (`shown`: the model name the client asked for). */
export function responseObject(id: string, req: ResponsesRequest, shown: string, status: ResponseObject["status"], output: OutputItem[], usage: ResponsesUsage | null, incomplete: string | null): ResponseObject {
  return {
    id,
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    status,
    model: shown,
    output,
    usage,
    error: null,
    incomplete_details: incomplete ? { reason: incomplete } : null,
    instructions: typeof req.instructions === "string" ? req.instructions : null,
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    tool_choice: req.tool_choice ?? "auto",
    tools: Array.isArray(req.tools) ? req.tools : [],
    temperature: req.temperature ?? null,
    top_p: req.top_p ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    previous_response_id: null,
    // Nothing is stored: a later previous_response_id naming this response is refused.
    store: false,
    text: { format: req.text?.format ?? { type: "text" } },
    metadata: {},
  };
}

/** The response for a whole chat completion: a reasoning item with the reasoning, a message item with the text, a function_call item per tool call. */
export function fromChatResponse(res: ChatResponse, req: ResponsesRequest, shown: string): ResponseObject {
  const choice = res.choices?.[0];
  const msg = choice?.message ?? {};
  const output: OutputItem[] = [];
  const reasoning = msg.reasoning_content ?? msg.reasoning;
  if (reasoning) output.push({ type: "reasoning", id: newId("rs"), summary: [], content: [{ type: "reasoning_text", text: reasoning }], status: "completed" });
  const logprobs = choice?.logprobs?.content;
  const cut = choice?.finish_reason === "length";
  if (msg.content) output.push({ type: "message", id: newId("msg"), status: cut ? "incomplete" : "completed", role: "assistant", content: [{ type: "output_text", text: msg.content, annotations: [], ...(Array.isArray(logprobs) ? { logprobs } : {}) }] });
  for (const c of msg.tool_calls ?? []) output.push({ type: "function_call", id: newId("fc"), call_id: c.id, name: c.function?.name ?? "", arguments: c.function?.arguments ?? "", status: "completed" });
  return responseObject(newId("resp"), req, shown, cut ? "incomplete" : "completed", output, responsesUsage(res.usage, reasoning ? reasoning.length : 0), cut ? "max_output_tokens" : null);
}
