// The one error renderer: the same HttpError in Ollama's, OpenAI's and our native shape, always with the stable code header.
import { describe, expect, test } from "bun:test";
import { dialectError, dialectOf, ERROR_CODE_HEADER, ERROR_CODES, HttpError } from "./http-error.ts";

describe("dialectOf", () => {
  test("/v1/* is OpenAI's; Ollama's /api/* and every other path are Ollama's", () => {
    expect(dialectOf("/v1/chat/completions")).toBe("openai");
    expect(dialectOf("/v1/models?x=1")).toBe("openai");
    expect(dialectOf("/api/chat")).toBe("ollama");
    expect(dialectOf("/api/tags?x=/v1/")).toBe("ollama");
    expect(dialectOf("/")).toBe("ollama");
    expect(dialectOf("/v1x")).toBe("ollama");
  });
});

describe("rendering", () => {
  test("Ollama's shape is a string under error, which its clients show as the message", async () => {
    const r = dialectError("/api/chat", "tunnel_offline", 'tunnel "a" is not connected');
    expect(r.status).toBe(502);
    expect(r.headers.get(ERROR_CODE_HEADER)).toBe("tunnel_offline");
    expect(await r.json()).toEqual({ error: 'tunnel "a" is not connected' });
  });

  test("OpenAI's shape carries message, type and code", async () => {
    const cases: [keyof typeof ERROR_CODES, string][] = [
      ["unauthorized", "authentication_error"],
      ["forbidden", "permission_error"],
      ["not_found", "not_found_error"],
      ["rate_limited", "rate_limit_error"],
      ["payload_too_large", "invalid_request_error"],
      ["upstream_timeout", "server_error"],
    ];
    for (const [code, type] of cases) {
      const r = dialectError("/v1/chat/completions", code, "why");
      expect(r.status).toBe(ERROR_CODES[code]);
      expect(await r.json()).toEqual({ error: { message: "why", type, code, param: null } });
      expect(r.headers.get(ERROR_CODE_HEADER)).toBe(code);
    }
  });

  test("the native shape stays {error: {code, message}} and keeps the caller's headers", async () => {
    const r = new HttpError("rate_limited", "slow down").toResponse({ "retry-after": "5" });
    expect(await r.json()).toEqual({ error: { code: "rate_limited", message: "slow down" } });
    expect(r.headers.get("retry-after")).toBe("5");
    expect(r.headers.get(ERROR_CODE_HEADER)).toBe("rate_limited");
    const d = new HttpError("rate_limited", "slow down").toDialectResponse("/api/generate", { "retry-after": "5" });
    expect(d.headers.get("retry-after")).toBe("5");
    expect(await d.json()).toEqual({ error: "slow down" });
  });
});
