// Which routes and methods have a dialect plan.
import { expect, test } from "bun:test";
import { dialectPlan, DIALECT_ROUTES } from "./plan.ts";

test("POSTs to the dialect routes have a plan; other routes and methods pass through", () => {
  const i = { body: null, requested: null, model: null };
  expect(dialectPlan("POST", "/v1/messages", i)?.dialect).toBe("anthropic-messages");
  expect(dialectPlan("POST", "/v1/messages/count_tokens", i)?.dialect).toBe("anthropic-count-tokens");
  expect(dialectPlan("POST", "/v1/responses", i)?.dialect).toBe("openai-responses");
  expect(dialectPlan("GET", "/api/version", i)?.dialect).toBe("ollama");
  for (const r of ["/api/chat", "/api/generate", "/api/embed", "/api/embeddings", "/api/show"]) expect(dialectPlan("POST", r, i)?.dialect).toBe("ollama");
  expect(dialectPlan("POST", "/api/pull", i)).toBeNull();
  expect(dialectPlan("GET", "/v1/messages", i)).toBeNull();
  expect(dialectPlan("POST", "/v1/chat/completions", i)).toBeNull();
  expect(DIALECT_ROUTES).toEqual(["/v1/messages", "/v1/messages/count_tokens", "/v1/responses"]);
});
