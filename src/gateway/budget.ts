// Daily token budgets in flight: what each admitted request holds of its key's tokens_per_day until its usage is counted.
//
// The ledger counts a request when it ends; without a hold, N requests admitted at once all see the same leftover and
// together spend N times it. Each request holds an estimate when admitted and gives it back when its real count (or,
// for a stream cut short, the estimate of what it delivered) reaches the ledger.

/** Completion tokens held for a request that names no larger limit (num_predict, max_tokens): a typical long answer. */
export const DEFAULT_COMPLETION_HOLD = 512;

/**
 * The top-level generation limits upstreams read: OpenAI's max_tokens and max_completion_tokens, the Responses API's
 * max_output_tokens, llama.cpp's n_predict (its /completion; its OpenAI routes read max_tokens), and num_predict where
 * a server takes it at the top. Ollama's num_predict is read inside "options".
 */
const LIMITS = ["max_tokens", "max_completion_tokens", "max_output_tokens", "n_predict", "num_predict"];
/**
 * The least a request generates: vLLM's min_tokens (no end of sequence before that many). A hold smaller than it would
 * let N calls at once each be sure to generate far more than they held.
 */
const FLOORS = ["min_tokens"];
/**
 * Answers generated per prompt: OpenAI's n (vLLM honours it), best_of (vLLM generates best_of, returns n), and
 * llama.cpp's n_cmpl (its own name for n, read before n: {"n":1,"n_cmpl":4} generates four).
 */
const COPIES = ["n", "best_of", "n_cmpl"];
/** No context window is larger: a bigger limit (1e300, which Go's int64 conversion turns negative) holds this many. */
const MOST_TOKENS = 2 ** 31;
/** An underscore between two digits, as Python's int() and pydantic's lax integers skip it ("100_000" is 100000). */
const DIGIT_UNDERSCORE = /(?<=\d)_(?=\d)/g;

/**
 * vLLM's and llama.cpp's ignore_eos as the most lenient of them reads it (pydantic's lax booleans: true, 1, "true",
 * "1", "yes", "on", "t", "y"): the model's end of sequence does not stop the answer, so without a limit it goes on to
 * the end of the context.
 */
function ignoresEos(v: unknown): boolean {
  if (v === true) return true;
  if (typeof v === "number") return v !== 0;
  return typeof v === "string" && /^\s*(?:1|true|yes|on|t|y)\s*$/i.test(v);
}

/**
 * A limit as the most lenient upstream reads it: a number (pydantic and nlohmann take 1e3 and 700.0 as integers, Ollama's
 * options map any number), or a string of one (pydantic's lax mode reads "700" as 700, and, as Python's int() does,
 * "7_00" as 700: underscores between digits are left out). Negative (Ollama's -1: no limit), absent or anything else:
 * null, no limit named.
 */
function limitOf(v: unknown): number | null {
  const n = typeof v === "number" ? v : typeof v === "string" && /\d/.test(v) ? Number(v.replace(DIGIT_UNDERSCORE, "")) : NaN;
  if (!(n >= 0)) return null;
  return Math.min(Math.ceil(n), MOST_TOKENS);
}

/**
 * The generation limit of a request body as its upstream reads it: parsed, the top-level fields (and Ollama's
 * options.num_predict) only, the largest when several are named, never less than the default (a small limit only
 * says less is likely: the hold is an estimate). Times the answers it asks for (n, best_of), for each prompt of a batch
 * (a completion's "prompt" as a list). The broker has refused a
 * body that names one of these fields twice or in another spelling (src/broker/generation-fields.ts), so the exact
 * name is the one every upstream reads. A body that is not a JSON object names no limit.
 */
function completionHold(body: Uint8Array | null): number {
  if (!body || body.byteLength === 0) return DEFAULT_COMPLETION_HOLD;
  let json: unknown;
  try {
    json = JSON.parse(dec.decode(body));
  } catch {
    return DEFAULT_COMPLETION_HOLD;
  }
  if (!json || typeof json !== "object" || Array.isArray(json)) return DEFAULT_COMPLETION_HOLD;
  const top = json as Record<string, unknown>;
  let max = DEFAULT_COMPLETION_HOLD;
  const take = (v: unknown) => {
    const n = limitOf(v);
    if (n !== null) max = Math.max(max, n);
  };
  for (const k of LIMITS) take(top[k]);
  const options = top.options;
  if (options && typeof options === "object") take((options as Record<string, unknown>).num_predict);
  // Told to pass its end of sequence with no limit it reads, an answer runs to the end of the context: the hold is all
  // of the budget (the key runs such a request alone), as for the largest limit. The servers that take ignore_eos (vLLM,
  // llama.cpp; the broker's translations drop it) both read only a top-level max_tokens given as a number: vLLM ignores
  // n_predict, num_predict and options, llama.cpp a limit given as a string ("700" is its default, no limit). And
  // llama.cpp reads n_predict, then max_completion_tokens, before max_tokens: a negative one of those (-1) is no limit.
  const limit = top.max_tokens;
  if (ignoresEos(top.ignore_eos) && (!(typeof limit === "number" && limit >= 0) || LIMITS.some((k) => typeof top[k] === "number" && (top[k] as number) < 0)))
    max = MOST_TOKENS;
  for (const k of FLOORS) max = Math.max(max, limitOf(top[k]) ?? 0);
  let copies = 1;
  for (const k of COPIES) copies = Math.max(copies, limitOf(top[k]) ?? 0);
  return Math.min(max * copies * promptsIn(top.prompt), MOST_TOKENS);
}
const dec = new TextDecoder();

/**
 * How many prompts a completion request's "prompt" holds: vLLM's and llama.cpp's completions take a batch, a list of
 * prompts (strings, lists of token ids; llama.cpp also objects), each generating up to the limit. A list of token ids
 * alone is one prompt; so is llama.cpp's mix of tokens and strings, counted here by its strings (more, never fewer).
 */
function promptsIn(prompt: unknown): number {
  if (!Array.isArray(prompt)) return 1;
  let n = 0;
  for (const p of prompt) if (p !== null && typeof p === "object") n++;
  for (const p of prompt) if (typeof p === "string") n++;
  return Math.max(1, n);
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
