// count_tokens' plan: which kinds count themselves, and the broker's estimate when none does.
import { expect, test } from "bun:test";
import { countTokensPlan } from "./count-tokens-plan.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

test("sent to kinds that serve Messages; the broker's estimate when none does, or when the upstream has no such route", async () => {
  const body = enc.encode(JSON.stringify({ model: "m", messages: [{ role: "user", content: "12345678" }] }));
  const p = countTokensPlan(body);
  expect(p.takes("llamacpp")).toBe(true);
  expect(p.takes("openai")).toBe(false);
  const a = p.attempt("ollama", "/v1/messages/count_tokens", body, body.byteLength);
  expect(a.target).toBe("/v1/messages/count_tokens");
  const counted = a.answer(200, "application/json");
  expect(dec.decode(counted.transform!.push(enc.encode('{"input_tokens":7}'))) + dec.decode(counted.transform!.end())).toBe('{"input_tokens":7}');
  // LM Studio's answer to a route it lacks is a 200 too: no count in it, so the estimate.
  const lmStudio = a.answer(200, "application/json");
  lmStudio.transform!.push(enc.encode('{"error":"Unexpected endpoint or method. (POST /v1/messages/count_tokens)"}'));
  expect(JSON.parse(dec.decode(lmStudio.transform!.end()))).toEqual({ input_tokens: 2 });
  const fallback = a.answer(404, "text/plain");
  expect(fallback.status).toBe(200);
  expect(JSON.parse(dec.decode(fallback.transform!.push(enc.encode("404 page not found"))) + dec.decode(fallback.transform!.end()))).toEqual({ input_tokens: 2 });
  expect(await p.none().json()).toEqual({ input_tokens: 2 });
  const bad = countTokensPlan(enc.encode("{")).none();
  expect(bad.status).toBe(400);
  expect(await bad.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
  expect((await countTokensPlan(enc.encode("{}")).none().json()) as unknown).toMatchObject({ error: { message: expect.stringContaining('"messages"') } });
});
