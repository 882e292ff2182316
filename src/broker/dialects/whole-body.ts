// A transform that holds a whole (non-streamed) answer and sends it rewritten once it has all of it, up to a cap.
import { HttpError } from "../../core/http-error.ts";
import { BUFFER_LIMIT } from "../request-body.ts";
import type { StreamTransform } from "../stream-transform.ts";
import type { TokenUsage } from "../usage.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);

export class WholeBody implements StreamTransform {
  private readonly parts: Uint8Array[] = [];
  private held = 0;
  usage: TokenUsage | null = null;

  /**
   * `rewrite` gets the body's text and returns the text to send and the usage it read (null: none); it may throw an
   * HttpError (an answer it cannot read). `limit`: the most bytes held, as for a request body (request-body.ts): an
   * upstream's answer is no more trusted to be small than a client's request.
   */
  constructor(
    private readonly rewrite: (text: string) => { text: string; usage: TokenUsage | null },
    private readonly limit = BUFFER_LIMIT,
  ) {}

  push(chunk: Uint8Array): Uint8Array {
    this.held += chunk.byteLength;
    if (this.held > this.limit) {
      this.parts.length = 0;
      throw new HttpError("upstream_error", `the upstream's answer is over ${this.limit} bytes, more than the broker holds to translate a whole answer; ask with "stream": true`);
    }
    this.parts.push(chunk);
    return EMPTY;
  }

  end(): Uint8Array {
    const text = dec.decode(Buffer.concat(this.parts));
    this.parts.length = 0;
    const r = this.rewrite(text);
    this.usage = r.usage;
    return enc.encode(r.text);
  }
}
