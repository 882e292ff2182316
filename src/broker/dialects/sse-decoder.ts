// Splits a Server-Sent Events byte stream into events (name and data), holding back a partial event between chunks.
const dec = new TextDecoder();

export interface SseEvent {
  /** The `event:` field, or "" when the event has none (OpenAI's chunks). */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
}

export class SseDecoder {
  private pending = "";

  /** The events completed by this chunk (CRLF and LF line ends alike); comments and other fields are skipped. */
  push(chunk: Uint8Array): SseEvent[] {
    const text = (this.pending + dec.decode(chunk, { stream: true })).replace(/\r\n?/g, "\n");
    const end = text.lastIndexOf("\n\n");
    if (end < 0) {
      this.pending = text;
      return [];
    }
    this.pending = text.slice(end + 2);
    return parse(text.slice(0, end));
  }

  /** An unterminated last event, at the end of the stream. */
  end(): SseEvent[] {
    const rest = (this.pending + dec.decode()).replace(/\r\n?/g, "\n");
    this.pending = "";
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

/** One event as SSE bytes' text: `event: NAME` (when named) and one `data:` line. */
export function sseText(event: string, data: unknown): string {
  return `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
}
