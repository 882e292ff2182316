// Whether a blob upload's bytes hash to the digest it names: what lets a key with a model list build models from that blob.
import { blobDigest } from "../core/model-routes.ts";

const DONE = { done: true };

/**
 * Hashes an upload's body as it streams to the upstream (`stream` is what is sent in its place). Ollama answers 200 to
 * an upload of a blob it already has without reading the body, so the upstream's answer proves nothing about the
 * caller: the broker's own hash of the whole body does. settle() drains what the upstream left unread (the client is
 * sending it anyway, and the answer waits for it), and says whether the body was whole and hashed to `digest`.
 * One read at a time, in order (`chain`): the upstream's reads and the drain never overlap.
 */
export class BlobProof {
  readonly stream: ReadableStream<Uint8Array>;
  private readonly hasher = new Bun.CryptoHasher("sha256");
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private chain: Promise<unknown> = Promise.resolve();
  private ended = false;
  private broken = false;

  /** `digest`: the blob the path names, as blobDigest() writes it. */
  constructor(
    source: ReadableStream<Uint8Array>,
    readonly digest: string,
  ) {
    this.reader = source.getReader();
    this.stream = new ReadableStream<Uint8Array>(
      {
        pull: async (c) => {
          const r = await this.next();
          if (r === null) return c.error(new Error("the upload could not be read"));
          if (r.done) return c.close();
          c.enqueue(r.value!);
        },
        // The upstream stopped reading (it answered): the rest is settle()'s to drain or drop.
        cancel: () => {},
      },
      { highWaterMark: 0 },
    );
  }

  /** The next part of the body, hashed; null when the client's body failed. */
  private next(): Promise<{ done: boolean; value?: Uint8Array } | null> {
    const read = this.chain.then(async () => {
      if (this.ended || this.broken) return DONE;
      try {
        const r = await this.reader.read();
        if (r.done) this.ended = true;
        else this.hasher.update(r.value);
        return r;
      } catch {
        this.broken = true;
        return null;
      }
    });
    this.chain = read;
    return read;
  }

  /**
   * After the upstream's answer: `accepted` (2xx) drains the rest of the body and says whether all of it hashed to the
   * digest; otherwise the rest is dropped.
   */
  async settle(accepted: boolean): Promise<boolean> {
    if (!accepted) {
      await this.chain;
      this.broken = true;
      void this.reader.cancel().catch(() => {});
      return false;
    }
    while (!this.ended && !this.broken) await this.next();
    return this.ended && !this.broken && blobDigest("sha256:" + this.hasher.digest("hex")) === this.digest;
  }
}
