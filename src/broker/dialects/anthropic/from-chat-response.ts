// A whole OpenAI chat completion rewritten as an Anthropic message (stream: false), and an upstream's error body as Anthropic's.
import { upstreamErrorMessage } from "../upstream-error-message.ts";
import { errorBody, type AnthropicErrorBody } from "../../../core/http-error.ts";
import { stopReason } from "./stop-reason.ts";
import type { AnthropicBlock, AnthropicResponse, ChatResponse } from "./types.ts";

/** A tool call's arguments as the `input` object; text that is not JSON (a model's slip) is kept under "arguments". */
export function toolInput(args: string | undefined): unknown {
  if (!args) return {};
  try {
    const v = JSON.parse(args) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? v : { arguments: v };
  } catch {
    return { arguments: args };
  }
}

/** An Anthropic message id for an OpenAI one (clients only read it back as an opaque string). */
export const messageId = (id: string | undefined): string => `msg_${(id ?? crypto.randomUUID()).replace(/^chatcmpl-/, "")}`;

/** The Anthropic message for a chat completion; `stops` are the request's stop_sequences, `model` what the client asked for. */
export function fromChatResponse(res: ChatResponse, model: string, stops: readonly string[]): AnthropicResponse {
  const choice = res.choices?.[0];
  const msg = choice?.message ?? {};
  const content: AnthropicBlock[] = [];
  const thinking = msg.reasoning_content ?? msg.reasoning;
  if (thinking) content.push({ type: "thinking", thinking, signature: "" });
  if (msg.content) content.push({ type: "text", text: msg.content });
  for (const c of msg.tool_calls ?? []) content.push({ type: "tool_use", id: c.id, name: c.function?.name ?? "", input: toolInput(c.function?.arguments) });
  // A server that answers a tool call with finish_reason "stop" (some do) still asked for a tool: say so.
  const finish = msg.tool_calls?.length && (choice?.finish_reason === "stop" || !choice?.finish_reason) ? "tool_calls" : choice?.finish_reason;
  return {
    id: messageId(res.id),
    type: "message",
    role: "assistant",
    model,
    content,
    ...stopReason(finish, choice?.stop_reason, stops),
    usage: { input_tokens: res.usage?.prompt_tokens ?? 0, output_tokens: res.usage?.completion_tokens ?? 0 },
  };
}

/**
 * An upstream's error answer (OpenAI's `{"error":{"message"}}`, Ollama's `{"error":"…"}`, or any text) in Anthropic's
 * shape, for the same status: the SDK picks its error class by status and shows the message.
 */
export function anthropicErrorFrom(status: number, body: string): AnthropicErrorBody {
  const message = upstreamErrorMessage(status, body);
  return errorBody("anthropic", status >= 500 ? "upstream_error" : "bad_request", message, status);
}
