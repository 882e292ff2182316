import { expect, test } from "bun:test";
import { BlobProof } from "./blob-proof.ts";

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);
const digestOf = (parts: Uint8Array[]) => {
  const h = new Bun.CryptoHasher("sha256");
  for (const p of parts) h.update(p);
  return `sha256:${h.digest("hex")}`;
};
function source(parts: Uint8Array[], failAt = -1): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (i === failAt) return c.error(new Error("client gone"));
      if (i >= parts.length) return c.close();
      c.enqueue(parts[i++]!);
    },
  });
}

test("the whole body read by the upstream hashes to the digest: proven", async () => {
  const parts = [bytes(10, 1), bytes(20, 2), bytes(5, 3)];
  const proof = new BlobProof(source(parts), digestOf(parts));
  const sent = await new Response(proof.stream).bytes();
  expect(sent.byteLength).toBe(35);
  expect(await proof.settle(true)).toBe(true);
});

test("an upstream that answered after one part (Ollama, for a blob it has): the rest is drained and hashed before the answer", async () => {
  const parts = [bytes(10, 1), bytes(20, 2), bytes(5, 3)];
  const proof = new BlobProof(source(parts), digestOf(parts));
  const reader = proof.stream.getReader();
  await reader.read();
  await reader.cancel();
  expect(await proof.settle(true)).toBe(true);
});

test("other bytes, a body that failed, or a refused upload prove nothing", async () => {
  const parts = [bytes(10, 1), bytes(20, 2)];
  const other = new BlobProof(source([bytes(10, 1)]), digestOf(parts));
  expect(await other.settle(true)).toBe(false);
  const failed = new BlobProof(source(parts, 1), digestOf(parts));
  expect(await failed.settle(true)).toBe(false);
  const refused = new BlobProof(source(parts), digestOf(parts));
  expect(await refused.settle(false)).toBe(false);
});
