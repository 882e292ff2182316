// The hop's framed body, streamed or (small) whole: it round-trips in chunks of any size, either form read by either; an altered, dropped, reordered, truncated or extended
// frame, or frames from another request, error the stream before the bad data is released.
import { expect, test } from "bun:test";
import { decodeHopBody, decodeHopBytes, encodeHopBody, encodeHopBytes, MAX_FRAME } from "./hop-body.ts";

const key = new TextEncoder().encode("k".repeat(32));
const sig = new Uint8Array(32).fill(7);
const stream = (chunks: Uint8Array[]) => new ReadableStream<Uint8Array>({ start(c) { for (const x of chunks) c.enqueue(x); c.close(); } });
const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * seed) & 255);
async function all(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}
/** The encoded frames, each as its own buffer. */
async function frames(chunks: Uint8Array[], s = sig): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const f of encodeHopBody(stream(chunks), key, s)) out.push(f);
  return out;
}
/** What the owner passes on before the stream fails, and the failure. */
async function decode(fs: Uint8Array[], rechunk = 0): Promise<{ got: number; error: string }> {
  let all2 = new Uint8Array(fs.reduce((a, f) => a + f.length, 0));
  let at = 0;
  for (const f of fs) all2.set(f, at), (at += f.length);
  const parts = rechunk ? Array.from({ length: Math.ceil(all2.length / rechunk) }, (_, i) => all2.subarray(i * rechunk, (i + 1) * rechunk)) : fs;
  let got = 0;
  try {
    for await (const c of decodeHopBody(stream(parts), key, sig)) got += c.length;
    return { got, error: "" };
  } catch (e) {
    return { got, error: (e as Error).message };
  }
}

test("a body round-trips whatever the chunking, including empty and larger than one frame", async () => {
  for (const [size, rechunk] of [[MAX_FRAME * 2 + 12345, 0], [MAX_FRAME * 2 + 12345, 70_001], [3000, 1], [3000, 5]] as const) {
    const body = bytes(size, 7);
    const fs = await frames([body.subarray(0, 100), body.subarray(100)]);
    const dec = decodeHopBody(stream(fs.flatMap((f) => (rechunk ? Array.from({ length: Math.ceil(f.length / rechunk) }, (_, i) => f.subarray(i * rechunk, (i + 1) * rechunk)) : [f]))), key, sig);
    expect(await all(dec)).toEqual(body);
  }
  expect((await all(decodeHopBody(stream(await frames([])), key, sig))).length).toBe(0);
  expect((await all(decodeHopBody(encodeHopBody(null, key, sig), key, sig))).length).toBe(0);
});

test("tampering is refused before the bad frame's data is released", async () => {
  const fs = await frames([bytes(1000), bytes(1000, 3), bytes(1000, 5)]);
  expect(fs.length).toBe(4);
  expect(await decode(fs)).toEqual({ got: 3000, error: "" });
  const flip = (f: Uint8Array, i: number) => {
    const c = f.slice();
    c[i]! ^= 1;
    return c;
  };
  // A data byte of the second frame altered: the first frame's data passes, nothing after.
  expect(await decode([fs[0]!, flip(fs[1]!, 10), fs[2]!, fs[3]!])).toEqual({ got: 1000, error: expect.stringMatching(/does not carry its signature/) });
  // A frame dropped, two swapped, one repeated.
  expect((await decode([fs[0]!, fs[2]!, fs[3]!])).error).toMatch(/does not carry its signature/);
  expect((await decode([fs[1]!, fs[0]!, fs[2]!, fs[3]!])).got).toBe(0);
  expect((await decode([fs[0]!, fs[0]!, fs[1]!, fs[2]!, fs[3]!])).error).toMatch(/does not carry its signature/);
  // Cut off (the final frame missing, or mid-frame), bytes appended after the end.
  expect(await decode(fs.slice(0, 3))).toEqual({ got: 3000, error: expect.stringMatching(/ended before its final frame/) });
  expect((await decode([fs[0]!, fs[1]!.subarray(0, 500)], 7)).error).toMatch(/ended before its final frame/);
  expect((await decode([...fs, new Uint8Array([1, 2, 3])])).error).toMatch(/after the final frame/);
  expect((await decode([...fs, fs[3]!], 3)).error).toMatch(/after the final frame/);
  // Another request's body (another signature seeds its chain), and an oversized frame header.
  expect((await decode(await frames([bytes(10)], new Uint8Array(32).fill(8)))).error).toMatch(/does not carry its signature/);
  const huge = new Uint8Array(8);
  new DataView(huge.buffer).setUint32(0, MAX_FRAME + 1);
  expect((await decode([huge])).error).toMatch(/is over/);
});

test("a small body sent whole: the same frames, checked at once; tampering, truncation and extra bytes refused", async () => {
  const body = bytes(5000, 3);
  const whole = encodeHopBytes(body, key, sig);
  expect(decodeHopBytes(whole, key, sig)).toEqual(body);
  // The same bytes as the streamed form, so either side may choose.
  expect(whole).toEqual(new Uint8Array(await new Response(encodeHopBody(stream([body]), key, sig)).arrayBuffer()));
  expect(await all(decodeHopBody(stream([whole]), key, sig))).toEqual(body);
  expect(decodeHopBytes(encodeHopBytes(new Uint8Array(0), key, sig), key, sig).length).toBe(0);
  const multi = new Uint8Array(await new Response(encodeHopBody(stream([bytes(10), bytes(20, 5)]), key, sig)).arrayBuffer());
  expect(decodeHopBytes(multi, key, sig)).toEqual(Uint8Array.from([...bytes(10), ...bytes(20, 5)]));
  const flipped = whole.slice();
  flipped[100]! ^= 1;
  expect(() => decodeHopBytes(flipped, key, sig)).toThrow(/does not carry its signature/);
  expect(() => decodeHopBytes(whole, key, new Uint8Array(32).fill(9))).toThrow(/does not carry its signature/);
  expect(() => decodeHopBytes(whole.subarray(0, whole.length - 36), key, sig)).toThrow(/ended before its final frame/);
  expect(() => decodeHopBytes(whole.subarray(0, 10), key, sig)).toThrow(/ended before its final frame/);
  expect(() => decodeHopBytes(Uint8Array.from([...whole, 0]), key, sig)).toThrow(/after the final frame/);
  expect(() => encodeHopBytes(new Uint8Array(MAX_FRAME + 1), key, sig)).toThrow(/sent as a stream/);
});
