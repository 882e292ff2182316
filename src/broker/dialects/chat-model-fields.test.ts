// What a translated chat request carries for the upstream's kind and model (the kinds' tables in src/kinds/).
import { expect, test } from "bun:test";
import { HttpError } from "../../core/http-error.ts";
import { withModelFields } from "./chat-model-fields.ts";

const ask = { model: "o3-mini", messages: [{ role: "user" as const, content: "hi" }] };

test("log probabilities asked of an OpenAI reasoning model on an openai upstream: a 400 naming them; other models and kinds keep them", () => {
  const refused = (() => {
    try {
      withModelFields({ ...ask, logprobs: true, top_logprobs: 2 }, "openai");
    } catch (e) {
      return e;
    }
  })();
  expect(refused).toBeInstanceOf(HttpError);
  expect((refused as HttpError).status).toBe(400);
  expect((refused as Error).message).toContain('model "o3-mini" does not return log probabilities: its server refuses logprobs and top_logprobs');
  expect(() => withModelFields({ ...ask, model: "openai/gpt-5-mini", logprobs: true }, "openai")).toThrow("refuses logprobs for it");
  expect(withModelFields({ ...ask, logprobs: false }, "openai").logprobs).toBe(false);
  expect(withModelFields({ ...ask, model: "gpt-4o", logprobs: true, top_logprobs: 2 }, "openai")).toMatchObject({ logprobs: true, top_logprobs: 2 });
  expect(withModelFields({ ...ask, logprobs: true, top_logprobs: 2 }, "vllm")).toMatchObject({ logprobs: true, top_logprobs: 2 });
});
