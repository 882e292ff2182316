// A transform that holds a whole (non-streamed) answer and sends it rewritten once it has all of it.
import type { StreamTransform } from "../stream-transform.ts";
import type { TokenUsage } from "../usage.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);

export class WholeBody implements StreamTransform {
  private readonly parts: Uint8Array[] = [];
  usage: TokenUsage | null = null;

  /** `rewrite` gets the body's text and returns the text to send and the usage it read (null: none). */
  constructor(private readonly rewrite: (text: string) => { text: string; usage: TokenUsage | null }) {}

  push(chunk: Uint8Array): Uint8Array {
    this.parts.push(chunk);
    return EMPTY;
  }

  end(): Uint8Array {
    const r = this.rewrite(dec.decode(Buffer.concat(this.parts)));
    this.parts.length = 0;
    this.usage = r.usage;
    return enc.encode(r.text);
  }
}
