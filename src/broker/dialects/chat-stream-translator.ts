// What every translation of an OpenAI chat completions stream shares: the SSE events read, [DONE], events that are not
// JSON, an upstream's in-stream error and a stream cut short; the dialect's subclass writes its own events.
import type { StreamTransform } from "../stream-transform.ts";
import type { TokenUsage } from "../usage.ts";
import type { ChatChunk } from "./chat-types.ts";
import { MAX_EVENT, SseDecoder, type SseEvent } from "./sse-decoder.ts";

const enc = new TextEncoder();
const EMPTY = new Uint8Array(0);

export abstract class ChatStreamTranslator implements StreamTransform {
  private readonly sse = new SseDecoder();
  /** The answer's last event was written (closed, or failed): nothing more is. */
  protected finished = false;
  /** The upstream's finish_reason, once it sent one. */
  protected finish: string | null = null;
  usage: TokenUsage | null = null;
  readonly ownsUsage = true;
  /** Why it ended with an error (fail, upstreamError), else null (stream-transform.ts). */
  failure: string | null = null;
  /** Ended with an error: the rest of the upstream's stream is not read (stream-transform.ts). */
  get abandoned(): boolean {
    return this.failure !== null;
  }

  /** What the client's stream is an answer of ("message", "response"), for the error of a stream cut short. */
  protected abstract readonly noun: string;
  /** The events for one chat chunk. */
  protected abstract chunk(c: ChatChunk): string;
  /** The end of a whole answer (a finish reason or [DONE] came); "" when it was already written. */
  protected abstract close(): string;
  /** The end of an answer that cannot be finished, in the dialect's words; sets `finished` and `failure`. */
  protected abstract fail(message: string): string;
  /** The end of an answer whose upstream sent an error event mid-stream. */
  protected abstract upstreamError(message: string): string;

  push(chunk: Uint8Array): Uint8Array {
    if (this.finished) return EMPTY;
    const events = this.sse.push(chunk);
    // An event the broker will not hold whole (sse-decoder.ts MAX_EVENT): the answer cannot be finished.
    if (this.sse.overflowed) return this.out(this.fail(`the upstream sent a stream event over ${MAX_EVENT} bytes; the answer is incomplete`));
    return this.out(this.events(events));
  }

  end(): Uint8Array {
    let text = this.events(this.sse.end());
    // An OpenAI stream says it is whole with a finish reason or [DONE]: one that ends with neither was cut short (a
    // proxy or the server closed it cleanly mid-answer), and must not reach the client as a finished answer.
    if (!this.finished) {
      try {
        text += this.finish !== null ? this.close() : this.fail(`the upstream ended the stream without finishing the ${this.noun} (no finish_reason, no [DONE]); the answer is incomplete`);
      } catch (e) {
        text += this.untranslatable(e);
      }
    }
    return this.out(text);
  }

  private out(text: string): Uint8Array {
    return text ? enc.encode(text) : EMPTY;
  }

  private events(list: SseEvent[]): string {
    let text = "";
    for (const e of list) {
      if (this.finished) break;
      try {
        text += this.event(e);
      } catch (err) {
        text += this.untranslatable(err);
      }
    }
    return text;
  }

  /**
   * What an event the dialect's events cannot be written for (an upstream's tool arguments nested deeper than
   * JSON.stringify goes) ends the answer with: the dialect's error, not a stream that breaks off with no word.
   */
  private untranslatable(e: unknown): string {
    return this.fail(`the upstream sent a stream event the broker cannot translate (${e instanceof Error ? e.message : String(e)}); the answer is incomplete`);
  }

  /** One event's text: the close, the dialect's events for a chunk, or the end of an answer that went wrong. */
  private event(e: SseEvent): string {
    if (e.data === "[DONE]") return this.close();
    let chunk: ChatChunk;
    try {
      chunk = JSON.parse(e.data) as ChatChunk;
    } catch {
      // A piece of the answer lost: what follows cannot be trusted to make a whole answer.
      return this.fail(`the upstream sent a stream event that is not JSON (${JSON.stringify(e.data.slice(0, 80))}); the answer is incomplete`);
    }
    const err = (chunk as { error?: { message?: unknown } | string }).error;
    if (err !== undefined) return this.upstreamError(typeof err === "string" ? err : String(err?.message ?? "upstream error"));
    return this.chunk(chunk);
  }
}
