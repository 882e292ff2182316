// OpenAI's finish_reason as Anthropic's stop_reason (a table), and which stop sequence ended the answer when the server says.
import type { StopReason } from "./types.ts";

const STOP_REASONS: Record<string, StopReason> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  function_call: "tool_use",
  content_filter: "refusal",
};

/**
 * The stop reason and sequence for a finish. OpenAI's "stop" covers both a natural end and a stop sequence; vLLM says
 * which string stopped it (`stop_reason`), and when that is one the client asked for, the answer is "stop_sequence".
 */
export function stopReason(finish: string | null | undefined, matched: unknown, asked: readonly string[]): { stop_reason: StopReason; stop_sequence: string | null } {
  if (finish === "stop" && typeof matched === "string" && asked.includes(matched)) return { stop_reason: "stop_sequence", stop_sequence: matched };
  return { stop_reason: (finish && STOP_REASONS[finish]) || "end_turn", stop_sequence: null };
}
