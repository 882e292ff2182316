// The agent holds a relay's request body to its declared length: more or fewer bytes fail the body instead of reaching an upstream.
import { expect, test } from "bun:test";
import type { Frame } from "./messages.ts";
import { Stream } from "./stream.ts";

/** A stream that has received `parts` and END from its peer; `sent` collects what it sends back. */
function received(parts: string[]): { s: Stream; sent: Frame[] } {
  const sent: Frame[] = [];
  const s = new Stream(1, { sendFrame: (f) => sent.push(f), release: () => {} }, 1 << 20);
  for (const p of parts) s.onData(new TextEncoder().encode(p));
  s.onEnd();
  return { s, sent };
}

test("exactly the declared length passes", async () => {
  expect(await new Response(received(["ab", "cd"]).s.readableExactly(4)).text()).toBe("abcd");
});

test("a longer or a shorter body fails, naming the declared length; a longer one resets the stream", async () => {
  const long = received(["ab", "cde"]);
  await expect(new Response(long.s.readableExactly(4)).text()).rejects.toThrow(/longer than its declared 4 bytes/);
  expect(long.sent.map((f) => f.type)).toContain("RESET");
  await expect(new Response(received(["ab"]).s.readableExactly(4)).text()).rejects.toThrow(/ended after 2 of its declared 4 bytes/);
});
