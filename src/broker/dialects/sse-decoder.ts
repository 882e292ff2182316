// Splits a Server-Sent Events byte stream into events (name and data), holding back a partial event between chunks.
import { BUFFER_LIMIT } from "../request-body.ts";

const dec = new TextDecoder();

export interface SseEvent {
  /** The `event:` field, or "" when the event has none (OpenAI's chunks). */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
}

/** The most an event may hold, as a request body may (request-body.ts): an upstream's stream is no more trusted. */
export const MAX_EVENT = BUFFER_LIMIT;

export class SseDecoder {
  /** The text of the event not yet ended, in the pieces it came in (joined once, when it ends: linear, not quadratic). */
  private parts: string[] = [];
  private held = 0;
  /** The last piece ended with "\r", held back: it may be the first half of a "\r\n" split between chunks. */
  private cr = false;
  /** An event grew past the limit: what it held is dropped and nothing more is decoded. */
  overflowed = false;

  constructor(private readonly limit = MAX_EVENT) {}

  /** The events completed by this chunk (CRLF and LF line ends alike); comments and other fields are skipped. */
  push(chunk: Uint8Array): SseEvent[] {
    if (this.overflowed) return [];
    let text = dec.decode(chunk, { stream: true });
    if (this.cr) text = "\r" + text;
    this.cr = text.endsWith("\r");
    if (this.cr) text = text.slice(0, -1);
    text = text.replace(/\r\n?/g, "\n");
    // The end of an event ("\n\n") may straddle the previous piece and this one.
    const before = this.held > 0 ? this.parts[this.parts.length - 1]!.slice(-1) : "";
    const at = (before + text).lastIndexOf("\n\n");
    if (at < 0) {
      this.held += text.length;
      if (this.held > this.limit) {
        this.overflowed = true;
        this.parts = [];
        this.held = 0;
        return [];
      }
      if (text) this.parts.push(text);
      return [];
    }
    const whole = this.parts.join("") + text;
    const end = whole.length - text.length - before.length + at;
    const rest = whole.slice(end + 2);
    this.parts = rest ? [rest] : [];
    this.held = rest.length;
    return parse(whole.slice(0, end));
  }

  /** An unterminated last event, at the end of the stream. */
  end(): SseEvent[] {
    if (this.overflowed) return [];
    const rest = (this.parts.join("") + dec.decode() + (this.cr ? "\r" : "")).replace(/\r\n?/g, "\n");
    this.parts = [];
    this.held = 0;
    this.cr = false;
    return rest.trim() ? parse(rest) : [];
  }
}

function parse(block: string): SseEvent[] {
  const out: SseEvent[] = [];
  for (const raw of block.split("\n\n")) {
    let event = "";
    let data: string[] | null = null;
    for (const line of raw.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") (data ??= []).push(value);
    }
    if (data !== null) out.push({ event, data: data.join("\n") });
  }
  return out;
}
