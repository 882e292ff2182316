// What the Exchange can put between an upstream's stream and the client: bytes in, bytes out, and the usage it read.
import type { TokenUsage } from "./usage.ts";

export interface StreamTransform {
  /** The bytes to send for this chunk of the upstream's body (may be empty while an event is incomplete). */
  push(chunk: Uint8Array): Uint8Array;
  /** The last bytes, once the upstream's body ended. */
  end(): Uint8Array;
  /** The token counts it read on the way (null until known): preferred to the tail's. */
  readonly usage: TokenUsage | null;
  /**
   * The transform is the only source of the counts: when it has none (a stream cut short) the relayed bytes' tail is not
   * read for them (a Messages stream's message_start says "output_tokens": 0 or 1 long before the end), and the tokens
   * relayed are counted instead.
   */
  readonly ownsUsage?: boolean;
  /**
   * The prompt's count the upstream stated before its output count (Anthropic's message_start), or null: a stream cut
   * short between the two is counted with it rather than with the estimate from the request's size.
   */
  readonly promptTokens?: number | null;
  /**
   * The transform ended the answer early with the dialect's error (a translated stream that broke its rules): the rest
   * of the upstream's body is not wanted, so the Exchange stops reading it, lets the upstream go and ends the client's stream.
   */
  readonly abandoned?: boolean;
  /**
   * Why the transform ended the answer with the dialect's error instead of its last event (abandoned mid-stream, or at
   * the end: a stream cut short); null while the answer is whole. The client got that sentence in the stream; the
   * Exchange records it too, so the request's log line and the upstream's error rate say the answer failed.
   */
  readonly failure?: string | null;
  /**
   * The dialect's own last event for an answer whose upstream broke off mid-stream (its connection dropped, it stalled,
   * the broker is stopping: `message` says which), in place of the stream format's error event; null to leave the
   * ending to that. A translated Responses stream ends as its own failures do, with response.failed and the text so far.
   */
  brokenOff?(message: string): Uint8Array | null;
}
