import { expect, test } from "bun:test";
import { ERROR_CODE_HEADER } from "../../../core/http-error.ts";
import { responsesPlan } from "./responses-plan.ts";

test("passed through to kinds that serve it, its stream's usage read; a 501 in OpenAI's shape when none does", async () => {
  const p = responsesPlan();
  expect(p.takes("ollama")).toBe(true);
  expect(p.takes("openai")).toBe(false);
  const a = p.attempt("ollama", "/v1/responses", null, 0);
  expect(a.target).toBe("/v1/responses");
  expect(a.answer(200, "text/event-stream").transform).not.toBeNull();
  expect(a.answer(200, "application/json").transform).toBeNull();
  const r = p.none();
  expect(r.status).toBe(501);
  expect(r.headers.get(ERROR_CODE_HEADER)).toBe("not_implemented");
  const j = (await r.json()) as { error: { type: string; code: string; message: string } };
  expect(j.error).toMatchObject({ type: "server_error", code: "not_implemented" });
  expect(j.error.message).toContain("/v1/responses");
});
