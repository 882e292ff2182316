// An upstream's reply as the client gets it through a dialect's answer plan: its body transformed, its content type
// (and, for an answer the broker makes itself, its status) replaced.
import type { ReadResult, UpstreamReply } from "../upstream-client.ts";
import type { AnswerPlan } from "./plan-types.ts";
import { WholeBody } from "./whole-body.ts";

export class TransformedReply implements UpstreamReply {
  readonly status: number;
  readonly statusText: string;
  readonly hasBody: boolean;
  /** A whole answer rewritten (WholeBody): read before the head is sent, so a failure to read it is still an error status. */
  readonly whole: boolean;

  constructor(
    private readonly res: UpstreamReply,
    private readonly plan: AnswerPlan,
  ) {
    this.status = plan.status ?? res.status;
    this.statusText = plan.status === undefined ? res.statusText : "";
    // A transform may write at the end what the upstream never sent (a whole translated message for an empty body).
    this.hasBody = res.hasBody || plan.transform !== null;
    this.whole = plan.transform instanceof WholeBody;
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

  /** The body through the transform, part by part as it arrives (so a cap on what it holds stops the reading too). */
  async bytes(): Promise<Uint8Array> {
    const t = this.plan.transform;
    if (!t) return this.res.hasBody ? this.res.bytes() : new Uint8Array(0);
    const out: Uint8Array[] = [];
    try {
      for (let done = !this.res.hasBody; !done; ) {
        const r = await this.res.read();
        for (const part of r.value) out.push(t.push(part));
        done = r.done;
      }
    } catch (e) {
      this.res.cancel();
      throw e;
    }
    if (this.plan.before) await this.plan.before;
    out.push(t.end());
    return Buffer.concat(out);
  }

  /** The upstream's parts as they are: the Exchange applies the transform (its `stripper`) as it relays them. */
  read(): Promise<ReadResult> | ReadResult {
    return this.res.hasBody ? this.res.read() : { done: true, value: [] };
  }

  cancel(): void {
    this.res.cancel();
  }
}
