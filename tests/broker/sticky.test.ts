// [proxy] sticky: every request of one conversation (same opening messages) reaches the same upstream, conversations
// spread over the upstreams that serve the model, and without sticky the order is routing's as before.
import { afterAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startBroker, upstreamToml } from "./harness.ts";

const a = await startFakeOllama({ models: ["m:1b"], tokens: 1 });
const b = await startFakeOllama({ models: ["m:1b"], tokens: 1 });
afterAll(async () => {
  await a.stop();
  await b.stop();
});

/** Which upstream answered each conversation, turn by turn. */
async function run(sticky: boolean): Promise<Map<string, string[]>> {
  a.requests.length = 0;
  b.requests.length = 0;
  const tb = await startBroker(upstreamToml("a", a.url) + upstreamToml("b", b.url), {}, sticky ? "sticky = true" : "");
  const seen = new Map<string, string[]>();
  try {
    await tb.waitState("a", "up");
    await tb.waitState("b", "up");
    for (let turn = 0; turn < 3; turn++) {
      for (let c = 0; c < 8; c++) {
        const messages = [
          { role: "system", content: `conversation ${c}` },
          { role: "user", content: "first question" },
          ...Array.from({ length: turn }, (_, i) => ({ role: "user", content: `follow-up ${i}` })),
        ];
        const before = { a: a.requests.length, b: b.requests.length };
        expect((await fetch(`${tb.url}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages, stream: false }) })).status).toBe(200);
        const who = a.requests.length > before.a ? "a" : b.requests.length > before.b ? "b" : "?";
        seen.set(`c${c}`, [...(seen.get(`c${c}`) ?? []), who]);
      }
    }
  } finally {
    await tb.stop();
  }
  return seen;
}

test("sticky: each conversation stays on one upstream as it grows, and the conversations use both", async () => {
  const seen = await run(true);
  for (const [c, ups] of seen) expect({ c, ups: new Set(ups).size }).toEqual({ c, ups: 1 });
  const firsts = new Set([...seen.values()].map((u) => u[0]));
  expect(firsts).toEqual(new Set(["a", "b"]));
});

test("without sticky, routing order decides (same priority and no latency yet: the first by name)", async () => {
  const seen = await run(false);
  expect(new Set([...seen.values()].map((u) => u[0])).has("a")).toBe(true);
});
