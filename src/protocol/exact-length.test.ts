// The agent holds a relay's request body to its declared length: more or fewer bytes fail the body instead of reaching an upstream.
import { expect, test } from "bun:test";
import { exactLength } from "./session.ts";

const body = (parts: string[]) =>
  new ReadableStream<Uint8Array>({
    pull(c) {
      const p = parts.shift();
      if (p === undefined) c.close();
      else c.enqueue(new TextEncoder().encode(p));
    },
  });

test("exactly the declared length passes", async () => {
  expect(await new Response(body(["ab", "cd"]).pipeThrough(exactLength(4))).text()).toBe("abcd");
});

test("a longer or a shorter body fails, naming the declared length", async () => {
  await expect(new Response(body(["ab", "cde"]).pipeThrough(exactLength(4))).text()).rejects.toThrow(/longer than its declared 4 bytes/);
  await expect(new Response(body(["ab"]).pipeThrough(exactLength(4))).text()).rejects.toThrow(/ended after 2 of its declared 4 bytes/);
});
