// Reads the usage of a Messages or Responses stream as it passes through unchanged (native pass-through): those streams
// give their counts in events the response's tail does not always hold (Anthropic's input_tokens in message_start).
import type { StreamTransform } from "../stream-transform.ts";
import type { TokenUsage } from "../usage.ts";
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

export class UsageWatcher implements StreamTransform {
  private readonly sse = new SseDecoder();
  private input: number | null = null;
  private output: number | null = null;
  usage: TokenUsage | null = null;
  readonly ownsUsage = true;

  constructor(private readonly dialect: keyof typeof READERS) {}

  push(chunk: Uint8Array): Uint8Array {
    this.read(this.sse.push(chunk));
    return chunk;
  }

  end(): Uint8Array {
    this.read(this.sse.end());
    return new Uint8Array(0);
  }

  private read(events: { data: string }[]): void {
    for (const ev of events) {
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
