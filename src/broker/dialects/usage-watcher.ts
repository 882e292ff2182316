// Reads the usage of a Messages or Responses stream as it passes through unchanged (native pass-through): those streams
// give their counts in events the response's tail does not always hold (Anthropic's input_tokens in message_start).
import { sseErrorData } from "../../core/http-error.ts";
import type { StreamTransform } from "../stream-transform.ts";
import type { TokenUsage } from "../usage.ts";
import { sseText } from "../../core/sse-text.ts";
import { MAX_EVENT } from "./sse-decoder.ts";
import { SseEventScanner } from "./sse-event-scanner.ts";

type Counts = { input?: number; output?: number };
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/**
 * Where each dialect's stream states its counts: the events that carry them (only their data is decoded and parsed;
 * sse-event-scanner.ts skips the rest unread) and how to read one.
 */
const READERS: Record<"anthropic" | "responses", { events: ReadonlySet<string>; read: (e: any) => Counts | null }> = {
  // message_start carries the prompt's count (its output count is only a start), message_delta the output's at the end
  // (and, from some servers, the prompt's again).
  anthropic: {
    events: new Set(["message_start", "message_delta"]),
    read: (e) => (e?.type === "message_start" ? { input: num(e.message?.usage?.input_tokens) } : e?.type === "message_delta" ? { input: num(e.usage?.input_tokens), output: num(e.usage?.output_tokens) } : null),
  },
  // response.completed (or .incomplete, .failed) holds the whole response with its usage.
  responses: {
    events: new Set(["response.completed", "response.incomplete", "response.failed"]),
    read: (e) => (typeof e?.type === "string" && e.type.startsWith("response.") && e.response?.usage ? { input: num(e.response.usage.input_tokens), output: num(e.response.usage.output_tokens) } : null),
  },
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
  private readonly sse: SseEventScanner;
  private input: number | null = null;
  private output: number | null = null;
  private ended = false;
  private lastByte = 0x0a;
  usage: TokenUsage | null = null;
  readonly ownsUsage = true;
  /** The prompt's count as soon as the stream states it (message_start), for a stream cut before its usage (stream-transform.ts). */
  promptTokens: number | null = null;
  /** Set when end() adds the dialect's error to a stream cut short (stream-transform.ts). */
  failure: string | null = null;

  constructor(private readonly dialect: keyof typeof READERS) {
    const { events } = READERS[dialect];
    const ends = ENDINGS[dialect].ends;
    this.sse = new SseEventScanner(
      (name) => events.has(name),
      (name, data) => {
        if (ends.has(name)) this.ended = true;
        // An event with no name (none of these dialects' own) is read if it may hold counts.
        if (data !== null && (name !== "" || data.includes('"usage"'))) this.read(data);
      },
      MAX_EVENT,
    );
  }

  push(chunk: Uint8Array): Uint8Array {
    if (chunk.byteLength > 0) this.lastByte = chunk[chunk.byteLength - 1]!;
    this.sse.push(chunk);
    return chunk;
  }

  end(): Uint8Array {
    this.sse.end();
    // An event too large to hold (MAX_EVENT) passed through unread: where the stream ended cannot be told.
    if (this.ended || this.sse.overflowed) return EMPTY;
    this.failure = CUT;
    // A blank line first ends whatever partial event the upstream left, so the error is an event of its own.
    return enc.encode((this.lastByte === 0x0a ? "\n" : "\n\n") + ENDINGS[this.dialect].cut(CUT));
  }

  private read(data: string): void {
    let c: Counts | null;
    try {
      c = READERS[this.dialect].read(JSON.parse(data));
    } catch {
      return;
    }
    if (!c) return;
    if (c.input !== undefined) this.input = this.promptTokens = c.input;
    if (c.output !== undefined) this.output = c.output;
    if (this.output !== null) this.usage = { tokens: this.output, promptTokens: this.input, genMs: null };
  }
}
