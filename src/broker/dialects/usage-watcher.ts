// Reads the usage of a Messages or Responses stream as it passes through unchanged (native pass-through): those streams
// give their counts in events the response's tail does not always hold (Anthropic's input_tokens in message_start).
import { sseErrorData } from "../../core/http-error.ts";
import type { StreamTransform } from "../stream-transform.ts";
import type { TokenUsage } from "../usage.ts";
import { sseText } from "../../core/sse-text.ts";
import { SseDecoder } from "./sse-decoder.ts";

type Counts = { input?: number; output?: number };
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** Where each dialect's stream states its counts, by event type. */
const READERS: Record<"anthropic" | "responses", (e: any) => Counts | null> = {
  // message_start carries the prompt's count (its output count is only a start), message_delta the output's at the end
  // (and, from some servers, the prompt's again).
  anthropic: (e) => (e?.type === "message_start" ? { input: num(e.message?.usage?.input_tokens) } : e?.type === "message_delta" ? { input: num(e.usage?.input_tokens), output: num(e.usage?.output_tokens) } : null),
  // response.completed (or .incomplete, .failed) holds the whole response with its usage.
  responses: (e) => (typeof e?.type === "string" && e.type.startsWith("response.") && e.response?.usage ? { input: num(e.response.usage.input_tokens), output: num(e.response.usage.output_tokens) } : null),
};

/**
 * The events that end each dialect's stream, and what the broker adds when the upstream's stream ends without one (it
 * was cut short, cleanly closed mid-answer): the dialect's error event, so the client's SDK raises an error rather
 * than take the part it got for the whole answer — as the translated streams end (anthropic/, responses/).
 */
const ENDINGS: Record<keyof typeof READERS, { ends: ReadonlySet<string>; cut: (message: string) => string }> = {
  anthropic: { ends: new Set(["message_stop", "error"]), cut: (message) => sseText("error", sseErrorData("anthropic", "upstream_error", message)) },
  responses: {
    ends: new Set(["response.completed", "response.incomplete", "response.failed", "error"]),
    cut: (message) => sseText("error", sseErrorData("responses", "upstream_error", message)),
  },
};
const CUT = "the upstream ended the stream before its last event; the answer is incomplete";
const EMPTY = new Uint8Array(0);
const enc = new TextEncoder();

export class UsageWatcher implements StreamTransform {
  private readonly sse = new SseDecoder();
  private input: number | null = null;
  private output: number | null = null;
  private ended = false;
  private lastByte = 0x0a;
  usage: TokenUsage | null = null;
  readonly ownsUsage = true;

  constructor(private readonly dialect: keyof typeof READERS) {}

  push(chunk: Uint8Array): Uint8Array {
    if (chunk.byteLength > 0) this.lastByte = chunk[chunk.byteLength - 1]!;
    this.read(this.sse.push(chunk));
    return chunk;
  }

  end(): Uint8Array {
    this.read(this.sse.end());
    // An event too large to hold (sse-decoder.ts) passed through unread: where the stream ended cannot be told.
    if (this.ended || this.sse.overflowed) return EMPTY;
    // A blank line first ends whatever partial event the upstream left, so the error is an event of its own.
    return enc.encode((this.lastByte === 0x0a ? "\n" : "\n\n") + ENDINGS[this.dialect].cut(CUT));
  }

  private read(events: { event: string; data: string }[]): void {
    const ends = ENDINGS[this.dialect].ends;
    for (const ev of events) {
      if (ends.has(ev.event)) this.ended = true;
      // Only events that state counts are parsed; the token events pass with a substring check.
      if (!ev.data.includes('"usage"')) continue;
      let c: Counts | null;
      try {
        c = READERS[this.dialect](JSON.parse(ev.data));
      } catch {
        continue;
      }
      if (!c) continue;
      if (c.input !== undefined) this.input = c.input;
      if (c.output !== undefined) this.output = c.output;
      if (this.output !== null) this.usage = { tokens: this.output, promptTokens: this.input, genMs: null };
    }
  }
}
