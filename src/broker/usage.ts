// Reads generated-token counts from the tail of a response: Ollama's final done line, an OpenAI usage object, the
// input_tokens/output_tokens usage of an Anthropic message or an OpenAI Responses answer, llama.cpp's tokens_predicted,
// or the stats of LM Studio's own chat (total_output_tokens).
//
// Only the last bytes of a stream are looked at (the numbers are at the very end of both formats), once, when the
// stream ends: no per-chunk parsing.
const K_PROMPT_EVAL_COUNT = Buffer.from('"prompt_eval_count"');
const K_PROMPT_TOKENS = Buffer.from('"prompt_tokens"');
const K_EVAL_COUNT = Buffer.from('"eval_count"');
const K_EVAL_DURATION = Buffer.from('"eval_duration"');
const K_COMPLETION_TOKENS = Buffer.from('"completion_tokens"');
const K_OUTPUT_TOKENS = Buffer.from('"output_tokens"');
const K_INPUT_TOKENS = Buffer.from('"input_tokens"');
const K_TOKENS_PREDICTED = Buffer.from('"tokens_predicted"');
const K_TOKENS_EVALUATED = Buffer.from('"tokens_evaluated"');
const K_TOTAL_OUTPUT_TOKENS = Buffer.from('"total_output_tokens"');
const K_DONE = Buffer.from('"done"');

export interface TokenUsage {
  /** Generated (completion) tokens. */
  tokens: number;
  /** Prompt tokens the upstream evaluated (Ollama's prompt_eval_count, OpenAI's prompt_tokens), or null. */
  promptTokens: number | null;
  /** Generation time in ms as the upstream measured it (Ollama), or null (OpenAI usage has none). */
  genMs: number | null;
}

/** Bytes JSON (and `\\s`, read as latin1) counts as white space around the colon. */
function isSpace(b: number): boolean {
  return b === 32 || (b >= 9 && b <= 13) || b === 160;
}

/**
 * The number after the last occurrence of a JSON key, found with a native byte search and read digit by digit from the
 * bytes: no decoding, no string and no match array per key (this runs at the end of every request). Reads what the
 * regex `"key"\s*:\s*(\d+)` reads over the 32 bytes after the key (usage.test.ts compares the two).
 */
function lastNumber(buf: Buffer, key: Buffer, from = 0): number | null {
  const at = buf.lastIndexOf(key);
  return at < from ? null : numberAt(buf, at, key);
}

/** The number after the key found at `at` (see lastNumber). */
function numberAt(buf: Buffer, at: number, key: Buffer): number | null {
  const end = Math.min(buf.length, at + key.length + 32);
  let i = at + key.length;
  while (i < end && isSpace(buf[i]!)) i++;
  if (i >= end || buf[i] !== 58) return null;
  i++;
  while (i < end && isSpace(buf[i]!)) i++;
  let n = 0;
  const first = i;
  for (; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return i > first ? n : null;
}

/**
 * Each dialect's completion count and the prompt count beside it: Ollama's done line, OpenAI's usage, Anthropic's and the
 * Responses API's usage, llama.cpp's own /completion (every event carries the running count, the last one the whole),
 * and LM Studio's own chat (its chat.end event's stats).
 */
const COUNTS: readonly (readonly [completion: Buffer, prompt: Buffer])[] = [
  [K_EVAL_COUNT, K_PROMPT_EVAL_COUNT],
  [K_COMPLETION_TOKENS, K_PROMPT_TOKENS],
  [K_OUTPUT_TOKENS, K_INPUT_TOKENS],
  [K_TOKENS_PREDICTED, K_TOKENS_EVALUATED],
  [K_TOTAL_OUTPUT_TOKENS, K_INPUT_TOKENS],
];

/**
 * Where Ollama's counts may be in the tail of its NDJSON: after the last `"done"` key when that says true (the done
 * line's own, which follows its message), nowhere when it says false (a stream cut before its done line), and anywhere
 * when the tail holds none (a done line whose context array is longer than the tail). -1: nowhere.
 */
function afterDone(buf: Buffer): number {
  const at = buf.lastIndexOf(K_DONE);
  if (at < 0) return 0;
  let i = at + K_DONE.length;
  while (i < buf.length && isSpace(buf[i]!)) i++;
  if (buf[i] !== 58) return 0;
  i++;
  while (i < buf.length && isSpace(buf[i]!)) i++;
  return buf[i] === 116 ? i : -1; // "t"rue
}

/**
 * The counts of the tail: the completion count found last, with its prompt count. The last, not the first dialect's
 * that appears: every format puts its own counts at its very end, while what comes before them may be what the client
 * sent, echoed (a Responses answer's tools and text format hold any key: `"eval_count": 0` in a schema's default must
 * not stand in for the usage after it). `ndjson`: Ollama's stream, whose counts are in its done line only (afterDone):
 * a tool call's arguments are a JSON object there, so a model can be made to write `"eval_count": 0` into the line
 * before a stream the client then cuts.
 */
export function parseUsage(tail: Uint8Array, ndjson = false): TokenUsage | null {
  if (tail.byteLength === 0) return null;
  const buf = Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength);
  const from = ndjson ? afterDone(buf) : 0;
  if (from < 0) return null;
  let which = -1;
  let at = from - 1;
  for (let i = 0; i < COUNTS.length; i++) {
    const k = buf.lastIndexOf(COUNTS[i]![0]);
    if (k > at && numberAt(buf, k, COUNTS[i]![0]) !== null) {
      at = k;
      which = i;
    }
  }
  if (which < 0) return null;
  // Indexed, not destructured: this runs at the end of every request, and a destructuring may allocate an iterator.
  const pair = COUNTS[which]!;
  const tokens = numberAt(buf, at, pair[0])!;
  const prompt = pair[1];
  if (which === 0) {
    const dur = lastNumber(buf, K_EVAL_DURATION, from);
    return { tokens, promptTokens: lastNumber(buf, prompt, from), genMs: dur !== null ? dur / 1e6 : null };
  }
  return { tokens, promptTokens: lastNumber(buf, prompt, from), genMs: null };
}

/**
 * An embedding's count in the tail of its answer (one too large to be read whole: a large batch): Ollama's
 * prompt_eval_count, or OpenAI's usage.prompt_tokens, both after the vectors. Null when it has neither.
 */
export function parsePromptUsage(tail: Uint8Array): TokenUsage | null {
  const buf = Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength);
  const prompt = lastNumber(buf, K_PROMPT_EVAL_COUNT) ?? lastNumber(buf, K_PROMPT_TOKENS);
  return prompt === null ? null : { tokens: 0, promptTokens: prompt, genMs: null };
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

/** Bytes of request body per prompt token, for estimates where the upstream sent no count (JSON and chat templates included). */
export const BYTES_PER_TOKEN = 4;

/** Prompt tokens estimated from the request body's size (when the upstream's own count never arrived): one per 4 bytes. */
export function estimatePromptTokens(bodyBytes: number): number {
  return Math.ceil(bodyBytes / BYTES_PER_TOKEN);
}

const DATA = Buffer.from("data:");
const NEWLINE = Buffer.from("\n");

/**
 * What the scan of a native SSE stream (streamedTokens) carries from one chunk to the next, and the first event it found
 * whose data cannot be JSON: OpenAI's SDK would throw a bare SyntaxError at it, so the Exchange ends the stream there
 * with the route's error event instead.
 */
export interface SseScan {
  /** The chunks so far ended an event (a blank line), or none came yet: a `data:` first in the next chunk begins one. */
  sseEventStart: boolean;
  /** The offset in the chunk last scanned of the first event whose data starts neither `{` nor `[` (`[DONE]`); -1: none. */
  sseBadEventAt: number;
}

const LF = 10;
const CR = 13;

/** Whether the line at `at` begins an event: the line before it is blank ("\n\n" or "\r\n\r\n"), or the chunk starts one. */
function beginsEvent(buf: Uint8Array, at: number, chunkStartsEvent: boolean): boolean {
  if (at === 0) return chunkStartsEvent;
  return buf[at - 1] === LF && (buf[at - 2] === LF || (buf[at - 2] === CR && buf[at - 3] === LF));
}

/** Whether a chunk ends with a blank line (its last event ended); a chunk too short to tell says no. */
function endsEvent(buf: Uint8Array): boolean {
  const n = buf.length;
  return n >= 2 && buf[n - 1] === LF && (buf[n - 2] === LF || (n >= 4 && buf[n - 2] === CR && buf[n - 3] === LF && buf[n - 4] === CR));
}

/** Where the count of a stream stands between chunks: whether the line or event the last chunk ended in was counted. */
export interface ContentScan {
  eventCounted: boolean;
}

/** A content key's next occurrence, per key of the chunk being counted (scratch: the count runs synchronously). */
const NEXT = new Int32Array(16);
const UNKNOWN = -1;
const NOWHERE = 0x7fffffff;

/** Whether the value after a key (at `i`, after its closing quote) is one: a colon follows, then a non-empty value. */
function valueAfter(buf: Uint8Array, i: number): boolean {
  while (isSpace(buf[i] ?? 0)) i++;
  if (buf[i] !== 58) return false;
  i++;
  while (isSpace(buf[i] ?? 0)) i++;
  const v = buf[i];
  // A string, array or object that does not close at once; null, numbers and booleans are no content.
  return v === 34 ? buf[i + 1] !== 34 : v === 91 ? buf[i + 1] !== 93 : v === 123 ? buf[i + 1] !== 125 : false;
}

/**
 * Buffer's native search for a byte sequence, called on the relayed chunk itself (Bun's Buffer methods take any
 * Uint8Array): no Buffer view is made per chunk for it.
 */
const find = Buffer.prototype.indexOf as (this: Uint8Array, value: Uint8Array, from?: number) => number;

/** Where `key` is next used as a key with content, from `from` on (NOWHERE: not in this chunk). */
function nextContent(buf: Uint8Array, key: Uint8Array, from: number): number {
  for (let at = find.call(buf, key, from); at >= 0; at = find.call(buf, key, at + 1)) if (valueAfter(buf, at + key.length)) return at;
  return NOWHERE;
}

/** Whether one of the keys is used with content in [from, end): each key's next place is searched for once per chunk, then remembered. */
function hasContent(buf: Uint8Array, keys: readonly Buffer[], from: number, end: number): boolean {
  for (let k = 0; k < keys.length; k++) {
    let p = NEXT[k]!;
    if (p < from) NEXT[k] = p = nextContent(buf, keys[k]!, from);
    if (p < end) return true;
  }
  return false;
}

/**
 * Tokens a relayed chunk of a generation stream carries, counted as it passes so a stream cut short still has a count:
 * one per NDJSON line (Ollama) or SSE `data:` event (the others) that carries content, as its dialect's table says
 * (content-events.ts `keys`): never its other events (a Messages stream's message_start and ping, a Responses stream's
 * response.created, OpenAI's role-only and usage-only chunks, Ollama's done line). Cheap: native byte searches for the
 * line or event starts and for each key, each chunk searched once per key; no decoding, no parsing. A line or event
 * split across chunks is counted once (`counted` carries it); a key split across two chunks is missed.
 *
 * With `scan`, the same search also finds an event whose data cannot be JSON (its first byte is not `{`, nor `[` of
 * `[DONE]`): only the first data line of an event, so a multi-line data event (legal SSE) is never taken for one, and
 * only where it is known to begin one (after a blank line); a line split across chunks, or data that starts `{` and is
 * still not JSON, is missed rather than guessed. It costs one or two byte reads per event beyond the count's.
 */
export function streamedTokens(buf: Uint8Array, sse: boolean, keys: readonly Buffer[], counted: ContentScan, scan?: SseScan): number {
  for (let k = 0; k < keys.length; k++) NEXT[k] = UNKNOWN;
  let n = 0;
  let done = counted.eventCounted;
  // The part of the chunk before the first start belongs to the line or event the last chunk ended in.
  let from = 0;
  const start = sse ? DATA : NEWLINE;
  for (let at = find.call(buf, start); ; at = find.call(buf, start, at + 1)) {
    // "data:" in a token's text is no event: a data line begins a line (a token's line breaks are escaped in its JSON).
    if (at > 0 && sse && buf[at - 1] !== LF && buf[at - 1] !== CR) continue;
    const end = at < 0 ? buf.length : at;
    if (!done && end > from && hasContent(buf, keys, from, end)) {
      n++;
      done = true;
    }
    if (at < 0) break;
    done = false;
    from = at + start.length;
    if (!sse || scan === undefined) continue;
    let v = from;
    if (buf[v] === 32) v++;
    const b = buf[v];
    if (b !== undefined && b !== 123 && b !== 91 && b !== LF && b !== CR && beginsEvent(buf, at, scan.sseEventStart)) {
      scan.sseBadEventAt = at;
      counted.eventCounted = false;
      return n;
    }
  }
  counted.eventCounted = done;
  if (scan !== undefined) scan.sseEventStart = endsEvent(buf);
  return n;
}
