// OpenAI streams and their usage: asking the upstream for it (stream_options.include_usage) when the client did not,
// and taking that extra last event out of what the client gets, keeping its numbers for the accounting.
import { HttpError } from "../core/http-error.ts";
import { notBoolean } from "./generation-fields.ts";
import { foldsTo } from "./json-top-level.ts";
import type { TokenUsage } from "./usage.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The OpenAI routes that stream with SSE and can report usage at the end (llama.cpp's without /v1, LM Studio's /api/v0 too). */
export const USAGE_STREAM_PATHS = new Set(["/v1/chat/completions", "/v1/completions", "/chat/completions", "/completions", "/api/v0/chat/completions", "/api/v0/completions"]);

/**
 * An OpenAI request body read once: whether it streams, and the body to send instead when it streams without asking for
 * usage (the same JSON with stream_options.include_usage = true; null when nothing is to change). Throws a 400 HttpError
 * for a "stream" that is neither a boolean nor null: upstreams read one differently (vLLM's pydantic takes "true", 1 or
 * "yes" as true, llama.cpp any non-boolean as false, Ollama refuses it), so the broker could not know whether the answer
 * streams. (A second "stream", or one in another spelling, was refused before: generation-fields.ts.)
 */
export function usagePlan(body: Uint8Array): { streaming: boolean; withUsage: Uint8Array | null } {
  let json: Record<string, unknown>;
  try {
    const v = JSON.parse(dec.decode(body)) as unknown;
    if (!v || typeof v !== "object" || Array.isArray(v)) return { streaming: false, withUsage: null };
    json = v as Record<string, unknown>;
  } catch {
    return { streaming: false, withUsage: null };
  }
  const stream = json.stream;
  if (stream !== undefined && stream !== null && typeof stream !== "boolean")
    throw new HttpError("bad_request", notBoolean(JSON.stringify(stream)));
  if (stream !== true) return { streaming: false, withUsage: null };
  const opts = json.stream_options && typeof json.stream_options === "object" && !Array.isArray(json.stream_options) ? (json.stream_options as Record<string, unknown>) : null;
  // Another spelling of include_usage ("INCLUDE_USAGE": false) is taken out: Ollama's decoder would read it after ours.
  const variants = opts ? Object.keys(opts).filter((k) => k !== "include_usage" && foldsTo(k, "include_usage")) : [];
  if (opts?.include_usage === true && variants.length === 0) return { streaming: true, withUsage: null };
  const kept = { ...opts };
  for (const k of variants) delete kept[k];
  json.stream_options = { ...kept, include_usage: true };
  return { streaming: true, withUsage: enc.encode(JSON.stringify(json)) };
}

/** The body with include_usage added, or null when nothing is to change (not streaming, already asked, not a JSON object). */
export function askForUsage(body: Uint8Array): Uint8Array | null {
  return usagePlan(body).withUsage;
}

/**
 * Removes the usage-only event (`"choices": []` with `"usage"`) from an SSE stream, chunk by chunk. Whole events pass
 * at once; only a partial event at a chunk's end waits for the rest of it.
 */
/**
 * The most of a partial event held back: the usage-only event is a few hundred bytes, so a longer one is not it and
 * passes on as it comes — an upstream that never ends an event cannot make the broker hold (and rescan) it all.
 */
const HOLD_AT_MOST = 64 * 1024;

/**
 * Where the last complete event of `text` ends (after its blank line), or -1. SSE lines may end with "\r\n" as well
 * as "\n" (Python's sse-starlette writes "\r\n"): looking for "\n\n" alone held such a stream back whole, and passed
 * its usage event on to a client that had not asked for it.
 */
function lastEventEnd(text: string): number {
  const lf = text.lastIndexOf("\n\n");
  // Most streams have no "\r": one search for them.
  const crlf = text.indexOf("\r") < 0 ? -1 : text.lastIndexOf("\r\n\r\n");
  return crlf >= 0 && crlf + 4 > lf + 2 ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
}

export class UsageStripper {
  private pending = "";
  usage: TokenUsage | null = null;

  push(chunk: Uint8Array): Uint8Array {
    const text = this.pending + dec.decode(chunk, { stream: true });
    const end = lastEventEnd(text);
    if (end < 0) {
      if (text.length > HOLD_AT_MOST) {
        this.pending = "";
        return enc.encode(text);
      }
      this.pending = text;
      return new Uint8Array(0);
    }
    this.pending = text.slice(end);
    return enc.encode(this.keep(text.slice(0, end)));
  }

  /** What is left at the end of the stream (an unterminated last event passes as it is). */
  end(): Uint8Array {
    const rest = this.pending + dec.decode();
    this.pending = "";
    return enc.encode(rest);
  }

  private keep(events: string): string {
    // Only events that mention usage are looked at closely; the token events pass untouched.
    if (!events.includes('"usage"')) return events;
    let out = "";
    for (const ev of events.split(/(?<=\n\n|\r\n\r\n)/)) {
      const data = /^data: ?(\{.*\})\s*$/s.exec(ev)?.[1];
      if (data) {
        try {
          const j = JSON.parse(data) as { choices?: unknown; usage?: { prompt_tokens?: number; completion_tokens?: number } | null };
          if (Array.isArray(j.choices) && j.choices.length === 0 && j.usage) {
            this.usage = { tokens: j.usage.completion_tokens ?? 0, promptTokens: j.usage.prompt_tokens ?? null, genMs: null };
            continue;
          }
        } catch {}
      }
      out += ev;
    }
    return out;
  }
}
