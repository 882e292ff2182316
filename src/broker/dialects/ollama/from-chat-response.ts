// A whole OpenAI chat completion rewritten as Ollama's /api/chat or /api/generate answer, and an upstream's error as Ollama's `{"error":"…"}`.
import { upstreamErrorMessage } from "../upstream-error-message.ts";
import type { ChatResponse, ChatToolCall, ChatUsage } from "../chat-types.ts";
import type { OllamaStats, OllamaToolCall } from "./types.ts";

/** Which Ollama route the answer is for: /api/chat answers with a `message`, /api/generate with a `response`. */
export type OllamaRoute = "chat" | "generate";

/** Ollama's done_reason for OpenAI's finish_reason: "length" when cut by the token limit, otherwise "stop" (as Ollama says after a tool call too). */
export const doneReason = (finish: string | null | undefined): string => (finish === "length" ? "length" : "stop");

/** A tool call's arguments as Ollama's object; text that is not a JSON object (a model's slip) is kept under "arguments". */
export function toolArguments(args: string | undefined): Record<string, unknown> {
  if (!args) return {};
  try {
    const v = JSON.parse(args) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : { arguments: v };
  } catch {
    return { arguments: args };
  }
}

export const ollamaToolCalls = (calls: readonly Pick<ChatToolCall, "id" | "function">[]): OllamaToolCall[] =>
  calls.map((c, index) => ({ id: c.id, function: { index, name: c.function.name, arguments: toolArguments(c.function.arguments) } }));

/**
 * Ollama's counts and durations (ns): the counts from the chat completion's usage; the durations as the broker saw them
 * (the upstream reports none): `startedMs` when the request was sent, `firstMs` when the first token came (null: not
 * known, the whole answer's time is counted as generation), both performance.now().
 */
export function ollamaStats(usage: ChatUsage | null | undefined, startedMs: number, firstMs: number | null, nowMs = performance.now()): OllamaStats {
  const ns = (ms: number) => Math.max(0, Math.round(ms * 1e6));
  const first = firstMs ?? startedMs;
  return {
    total_duration: ns(nowMs - startedMs),
    load_duration: 0,
    prompt_eval_count: usage?.prompt_tokens ?? 0,
    prompt_eval_duration: ns(first - startedMs),
    eval_count: usage?.completion_tokens ?? 0,
    eval_duration: ns(nowMs - first),
  };
}

/** The answer to /api/chat or /api/generate with stream: false; `model`: what the client asked for. */
export function fromChatResponse(res: ChatResponse, route: OllamaRoute, model: string, startedMs: number, nowMs = performance.now()): Record<string, unknown> {
  const choice = res.choices?.[0];
  const msg = choice?.message ?? {};
  const thinking = msg.reasoning_content ?? msg.reasoning;
  const head = { model, created_at: new Date().toISOString() };
  const logprobs = choice?.logprobs?.content;
  const tail = { done: true, done_reason: doneReason(choice?.finish_reason), ...ollamaStats(res.usage, startedMs, null, nowMs), ...(Array.isArray(logprobs) ? { logprobs } : {}) };
  if (route === "generate") return { ...head, response: msg.content ?? "", ...(thinking ? { thinking } : {}), ...tail };
  const message: Record<string, unknown> = { role: "assistant", content: msg.content ?? "" };
  if (thinking) message.thinking = thinking;
  if (msg.tool_calls?.length) message.tool_calls = ollamaToolCalls(msg.tool_calls);
  return { ...head, message, ...tail };
}

/** An upstream's error answer (OpenAI's `{"error":{"message"}}`, `{"error":"…"}`, `{"detail"}`, or any text) as Ollama's `{"error":"…"}`. */
export function ollamaErrorFrom(status: number, body: string): { error: string } {
  const message = upstreamErrorMessage(status, body);
  return { error: message };
}

/** Ollama's answer to a load (or unload) request (an empty prompt or messages), once the upstream answered: nothing generated. */
export function loadAnswer(route: OllamaRoute, model: string, reason: "load" | "unload" = "load"): Record<string, unknown> {
  const head = { model, created_at: new Date().toISOString() };
  return route === "chat" ? { ...head, message: { role: "assistant", content: "" }, done_reason: reason, done: true } : { ...head, response: "", done: true, done_reason: reason };
}
