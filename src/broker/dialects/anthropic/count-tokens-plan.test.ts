import { expect, test } from "bun:test";
import { countTokensPlan } from "./count-tokens-plan.ts";

const enc = new TextEncoder();

test("passed through to kinds that count; otherwise the broker's estimate, or a 400 in Anthropic's shape", async () => {
  const body = enc.encode(JSON.stringify({ model: "m", messages: [{ role: "user", content: "12345678" }] }));
  const p = countTokensPlan(body);
  expect(p.takes("llamacpp")).toBe(true);
  expect(p.takes("ollama")).toBe(false);
  expect(p.attempt("llamacpp", "/v1/messages/count_tokens", body, body.byteLength).target).toBe("/v1/messages/count_tokens");
  const r = p.none();
  expect(await r.json()).toEqual({ input_tokens: 2 });
  const bad = countTokensPlan(enc.encode("{")).none();
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { type: string }).type).toBe("error");
  expect((await countTokensPlan(enc.encode("{}")).none().json()) as unknown).toMatchObject({ error: { type: "invalid_request_error" } });
});
