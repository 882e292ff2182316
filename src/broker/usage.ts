// Reads generated-token counts from the tail of a response: Ollama's final done line or an OpenAI usage object.
//
// Only the last bytes of a stream are looked at (the numbers are at the very end of both formats), once, when the
// stream ends: no per-chunk parsing.
const dec = new TextDecoder();
const EVAL_COUNT = /"eval_count"\s*:\s*(\d+)/;
const EVAL_DURATION = /"eval_duration"\s*:\s*(\d+)/;
const COMPLETION_TOKENS = /"completion_tokens"\s*:\s*(\d+)/;

export interface TokenUsage {
  tokens: number;
  /** Generation time in ms as the upstream measured it (Ollama), or null (OpenAI usage has none). */
  genMs: number | null;
}

export function parseUsage(tail: Uint8Array): TokenUsage | null {
  if (tail.byteLength === 0) return null;
  const text = dec.decode(tail);
  const count = EVAL_COUNT.exec(text);
  if (count) {
    const dur = EVAL_DURATION.exec(text);
    return { tokens: Number(count[1]), genMs: dur ? Number(dur[1]) / 1e6 : null };
  }
  // The last usage object wins: a stream has at most one, a JSON body exactly one.
  const idx = text.lastIndexOf('"completion_tokens"');
  if (idx >= 0) {
    const m = COMPLETION_TOKENS.exec(text.slice(idx));
    if (m) return { tokens: Number(m[1]), genMs: null };
  }
  return null;
}

/** Bytes kept from the end of a response for parseUsage. */
export const TAIL_BYTES = 1024;

/** The last `max` bytes of a sequence of chunks (newest last), copied once. */
export function joinTail(chunks: (Uint8Array | undefined)[], max = TAIL_BYTES): Uint8Array {
  let total = 0;
  let from = chunks.length;
  while (from > 0 && total < max) {
    const c = chunks[from - 1];
    if (!c) break;
    total += c.byteLength;
    from--;
  }
  const out = new Uint8Array(Math.min(total, max));
  let pos = out.byteLength;
  for (let i = chunks.length - 1; i >= from && pos > 0; i--) {
    const c = chunks[i]!;
    const take = Math.min(pos, c.byteLength);
    out.set(c.subarray(c.byteLength - take), pos - take);
    pos -= take;
  }
  return out;
}
