// Daily token budgets in flight: what each admitted request holds of its key's tokens_per_day until its usage is counted.
//
// The ledger counts a request when it ends; without a hold, N requests admitted at once all see the same leftover and
// together spend N times it. Each request holds an estimate when admitted and gives it back when its real count (or,
// for a stream cut short, the estimate of what it delivered) reaches the ledger.

/** Completion tokens held for a request that names no larger limit (num_predict, max_tokens): a typical long answer. */
export const DEFAULT_COMPLETION_HOLD = 512;

const LIMIT_KEYS = ['"num_predict"', '"max_tokens"', '"max_completion_tokens"', '"max_output_tokens"'].map((k) => Buffer.from(k));
const NUMBER_AFTER = /^"\w+"\s*:\s*(\d{1,12})\b/;

/**
 * The largest generation limit anywhere in the body (Ollama's options.num_predict, OpenAI's max_tokens or
 * max_completion_tokens, the Responses API's max_output_tokens), found with a byte search. The largest is taken, and never less than the default: a body
 * cannot make its hold smaller by hiding a small limit where the upstream does not read it.
 */
function completionHold(body: Uint8Array | null): number {
  let max = DEFAULT_COMPLETION_HOLD;
  if (!body) return max;
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  for (const k of LIMIT_KEYS) {
    for (let at = buf.indexOf(k); at >= 0; at = buf.indexOf(k, at + k.length)) {
      const m = NUMBER_AFTER.exec(buf.toString("latin1", at, Math.min(buf.length, at + k.length + 32)));
      if (m) max = Math.max(max, Number(m[1]));
    }
  }
  return max;
}

/** What a request holds of its key's budget while in flight: its prompt (the broker's estimate) and its generation limit. */
export function holdFor(body: Uint8Array | null, promptTokens: number): number {
  return promptTokens + completionHold(body);
}

/** Tokens held per key by requests in flight. */
export class BudgetHolds {
  private held = new Map<string, number>();

  /** Tokens the key's requests in flight hold now. */
  of(key: string): number {
    return this.held.get(key) ?? 0;
  }

  /** Holds `tokens` for the key; the answer gives them back, once (later calls do nothing). */
  hold(key: string, tokens: number): () => void {
    this.held.set(key, this.of(key) + tokens);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = this.of(key) - tokens;
      if (left > 0) this.held.set(key, left);
      else this.held.delete(key);
    };
  }
}
