// OpenAI streams and their usage: asking the upstream for it (stream_options.include_usage) when the client did not,
// and taking that extra last event out of what the client gets, keeping its numbers for the accounting.
import type { TokenUsage } from "./usage.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The OpenAI routes that stream with SSE and can report usage at the end. */
export const USAGE_STREAM_PATHS = new Set(["/v1/chat/completions", "/v1/completions"]);

/**
 * An OpenAI request body read once: whether it streams, and the body to send instead when it streams without asking for
 * usage (the same JSON with stream_options.include_usage = true; null when nothing is to change).
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
  if (json.stream !== true) return { streaming: false, withUsage: null };
  const opts = json.stream_options;
  if (opts && typeof opts === "object" && (opts as { include_usage?: unknown }).include_usage === true) return { streaming: true, withUsage: null };
  json.stream_options = { ...(opts && typeof opts === "object" ? opts : {}), include_usage: true };
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

export class UsageStripper {
  private pending = "";
  usage: TokenUsage | null = null;

  push(chunk: Uint8Array): Uint8Array {
    const text = this.pending + dec.decode(chunk, { stream: true });
    const end = text.lastIndexOf("\n\n");
    if (end < 0) {
      if (text.length > HOLD_AT_MOST) {
        this.pending = "";
        return enc.encode(text);
      }
      this.pending = text;
      return new Uint8Array(0);
    }
    this.pending = text.slice(end + 2);
    return enc.encode(this.keep(text.slice(0, end + 2)));
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
    for (const ev of events.split(/(?<=\n\n)/)) {
      const data = /^data: (\{.*\})\s*$/s.exec(ev)?.[1];
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
