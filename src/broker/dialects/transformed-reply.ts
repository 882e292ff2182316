// An upstream's reply as the client gets it through a dialect's answer plan: its body transformed, its content type
// (and, for an answer the broker makes itself, its status) replaced.
import type { ReadResult, UpstreamReply } from "../upstream-client.ts";
import type { AnswerPlan } from "./plan-types.ts";

export class TransformedReply implements UpstreamReply {
  readonly status: number;
  readonly statusText: string;
  readonly hasBody: boolean;
  private ended = false;

  constructor(
    private readonly res: UpstreamReply,
    private readonly plan: AnswerPlan,
  ) {
    this.status = plan.status ?? res.status;
    this.statusText = plan.status === undefined ? res.statusText : "";
    // A transform may write at the end what the upstream never sent (a whole translated message for an empty body).
    this.hasBody = res.hasBody || plan.transform !== null;
  }

  header(name: string): string | null {
    if (name === "content-type" && this.plan.contentType !== null) return this.plan.contentType;
    // The transform changes the body's length: the upstream's says only that the answer is small (read whole).
    return this.res.header(name);
  }

  clientHeaders(): Headers {
    const h = this.res.clientHeaders();
    if (this.plan.contentType !== null) h.set("content-type", this.plan.contentType);
    if (this.plan.transform) h.delete("content-length");
    return h;
  }

  async bytes(): Promise<Uint8Array> {
    const body = this.res.hasBody ? await this.res.bytes() : new Uint8Array(0);
    const t = this.plan.transform;
    if (!t) return body;
    const head = t.push(body);
    const tail = t.end();
    return head.byteLength === 0 ? tail : Buffer.concat([head, tail]);
  }

  /** The upstream's parts as they are: the Exchange applies the transform (its `stripper`) as it relays them. */
  read(): Promise<ReadResult> | ReadResult {
    if (!this.res.hasBody) {
      if (this.ended) return { done: true, value: [] };
      this.ended = true;
      return { done: true, value: [] };
    }
    return this.res.read();
  }

  cancel(): void {
    this.res.cancel();
  }
}
