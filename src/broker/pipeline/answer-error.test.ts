// Unit tests for the one error renderer: the request's dialect decides the shape, not the path an error is about.
import { expect, test } from "bun:test";
import { kit, kitConfig, upstreams } from "../../../tests/helpers/pipeline-kit.ts";
import { ERROR_CODE_HEADER, HttpError } from "../../core/http-error.ts";
import { errorAnswer, refusalAnswer, requestDialect } from "./answer-error.ts";

test("the dialect is decided from the route: an escaped or upper-case spelling of /v1 is OpenAI's, /api Ollama's", () => {
  expect(requestDialect("/v1/chat/completions")).toBe("openai");
  expect(requestDialect("/api/chat")).toBe("ollama");
  const k = kit(kitConfig(upstreams("a")));
  expect(k.exchange("/%761/chat/completions").dialect).toBe("openai");
  expect(k.exchange("/V1/chat/completions").dialect).toBe("openai");
  expect(k.exchange("/api/%63hat").dialect).toBe("ollama");
});

test("errorAnswer renders in the Exchange's dialect with the stable code header", async () => {
  const k = kit(kitConfig(upstreams("a")));
  const ex = k.exchange("/api/chat");
  const ollama = errorAnswer(ex, "upstream_error", "broke");
  expect(ollama.status).toBe(502);
  expect(ollama.headers.get(ERROR_CODE_HEADER)).toBe("upstream_error");
  expect(await ollama.json()).toEqual({ error: "broke" });
  ex.dialect = "openai";
  expect(await errorAnswer(ex, "upstream_error", "broke").json()).toEqual({ error: { message: "broke", type: "server_error", code: "upstream_error", param: null } });
});

test("refusalAnswer keeps the HttpError's status and Retry-After; anything else is thrown on as a bug", async () => {
  const k = kit(kitConfig(upstreams("a")));
  const ex = k.exchange("/v1/embeddings");
  const res = refusalAnswer(ex, new HttpError("unavailable", "busy").after(5));
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBe("5");
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unavailable");
  expect(() => refusalAnswer(ex, new TypeError("bug"))).toThrow("bug");
});
