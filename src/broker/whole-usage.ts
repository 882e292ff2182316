// The token counts of a whole (not streamed) generation answer, read from where each dialect puts them in its top level.
//
// Why not the tail's byte search (usage.ts) for these: a whole answer may carry data after its counts (vLLM's
// prompt_logprobs and prompt_token_ids follow `usage`, tens of KiB), which left them out of the tail and the request
// free; and a Responses answer echoes what the client sent (tools, text format, metadata), so a key named like a count
// ("eval_count": 0 in a schema's default) could stand in for the real one. The answer is held in memory already (at
// most SMALL_RESPONSE bytes), so it is parsed once, and only the top level's own fields are read.
import type { TokenUsage } from "./usage.ts";

const dec = new TextDecoder();

const count = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.floor(v) : null);

/** The counts of a whole answer in any dialect (an embedding's: its prompt only), or null when it is not a JSON object that has them. */
export function wholeUsage(body: Uint8Array): TokenUsage | null {
  let j: unknown;
  try {
    j = JSON.parse(dec.decode(body));
  } catch {
    return null;
  }
  if (!j || typeof j !== "object" || Array.isArray(j)) return null;
  const top = j as Record<string, unknown>;
  // Ollama's answer: eval_count at the top (omitted when zero: a done answer without it generated nothing).
  const evalCount = count(top.eval_count);
  if (evalCount !== null || top.done === true) {
    const dur = count(top.eval_duration);
    return { tokens: evalCount ?? 0, promptTokens: count(top.prompt_eval_count), genMs: dur !== null ? dur / 1e6 : null };
  }
  // Ollama's /api/embed: the prompt's count only (an embedding generates nothing).
  const promptEval = count(top.prompt_eval_count);
  if (promptEval !== null) return { tokens: 0, promptTokens: promptEval, genMs: null };
  const u = top.usage;
  if (!u || typeof u !== "object") {
    // llama.cpp's own /completion: its counts at the top.
    const predicted = count(top.tokens_predicted);
    if (predicted !== null) return { tokens: predicted, promptTokens: count(top.tokens_evaluated), genMs: null };
    // LM Studio's own chat (/api/v1/chat): its stats.
    const stats = top.stats;
    const total = stats && typeof stats === "object" ? count((stats as Record<string, unknown>).total_output_tokens) : null;
    return total !== null ? { tokens: total, promptTokens: count((stats as Record<string, unknown>).input_tokens), genMs: null } : null;
  }
  const usage = u as Record<string, unknown>;
  // OpenAI's chat completions and completions; Anthropic's message and OpenAI's Responses answer.
  const completion = count(usage.completion_tokens);
  if (completion !== null) return { tokens: completion, promptTokens: count(usage.prompt_tokens), genMs: null };
  const output = count(usage.output_tokens);
  if (output !== null) return { tokens: output, promptTokens: count(usage.input_tokens), genMs: null };
  // OpenAI's /v1/embeddings: prompt_tokens only.
  const prompt = count(usage.prompt_tokens);
  return prompt !== null ? { tokens: 0, promptTokens: prompt, genMs: null } : null;
}
