// The one error renderer: the same HttpError in Ollama's, OpenAI's and our native shape, always with the stable code header.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dialectError, dialectOf, ERROR_CODE_HEADER, ERROR_CODES, errorBody, HttpError, sseErrorData, sseErrorShape, streamErrorTail, streamFormat } from "./http-error.ts";

describe("dialectOf", () => {
  test("/v1/* is OpenAI's; Ollama's /api/* and every other path are Ollama's", () => {
    expect(dialectOf("/v1/chat/completions")).toBe("openai");
    expect(dialectOf("/v1/models?x=1")).toBe("openai");
    expect(dialectOf("/api/chat")).toBe("ollama");
    expect(dialectOf("/api/tags?x=/v1/")).toBe("ollama");
    expect(dialectOf("/")).toBe("ollama");
    expect(dialectOf("/v1x")).toBe("ollama");
  });

  test("/api/v1/* is our control API's namespace, never turned into Ollama's shape", async () => {
    for (const p of ["/api/v1", "/api/v1/status", "/api/v1?x=1", "/api/v1/requests/"]) expect(dialectOf(p)).toBe("native");
    expect(dialectOf("/api/v1x")).toBe("ollama");
    expect(dialectOf("/api/version")).toBe("ollama");
    const r = dialectError("/api/v1/status", "forbidden", "/api/v1/status is not in [tunnel] allowed_paths");
    expect(await r.json()).toEqual({ error: { code: "forbidden", message: "/api/v1/status is not in [tunnel] allowed_paths" } });
    expect(r.headers.get(ERROR_CODE_HEADER)).toBe("forbidden");
  });
});

describe("errorBody (a failed stream's last line or event)", () => {
  test("the same shapes as an error answer, without the response around them", () => {
    expect(errorBody("ollama", "upstream_error", "broke off")).toEqual({ error: "broke off" });
    expect(errorBody("openai", "upstream_error", "broke off")).toEqual({ error: { message: "broke off", type: "server_error", code: "upstream_error", param: null } });
    // A status other than the code's own (a relayed upstream's) picks the OpenAI type.
    expect(errorBody("openai", "upstream_error", "x", 429).error.type).toBe("rate_limit_error");
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

  test("a Retry-After past a minute tells the SDKs not to retry (x-should-retry: false); a short one leaves them to", () => {
    for (const path of ["/v1/messages", "/v1/chat/completions", "/api/chat"]) {
      const long = new HttpError("rate_limited", "until midnight").after(3600).toDialectResponse(path);
      expect([long.headers.get("retry-after"), long.headers.get("x-should-retry")]).toEqual(["3600", "false"]);
      const short = new HttpError("rate_limited", "a moment").after(60).toDialectResponse(path);
      expect([short.headers.get("retry-after"), short.headers.get("x-should-retry")]).toEqual(["60", null]);
    }
  });
});

describe("docs/errors.md", () => {
  test("names every code: a row with its status and both dialects' bodies, or among our own APIs' codes", () => {
    const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");
    const own = doc.slice(doc.indexOf("never seen on Ollama or OpenAI paths"));
    for (const [code, status] of Object.entries(ERROR_CODES)) {
      const row = doc.split("\n").find((l) => l.startsWith(`| \`${code}\` |`));
      if (row) {
        const cells = row.split(" | ");
        expect(cells[1]).toBe(String(status));
        expect(cells[3]).toStartWith('`{"error":"');
        expect(cells[4]).toContain(`"code":"${code}"`);
      } else expect(own).toContain(`\`${code}\``);
    }
  });
});

describe("streamErrorTail (the last bytes of a stream cut short)", () => {
  const err = new HttpError("tunnel_offline", "gone");
  test("NDJSON: its own line whatever came before; SSE: its own event; other formats: nothing in-band", () => {
    expect(streamFormat("application/x-ndjson")).toBe("ndjson");
    expect(streamFormat("text/event-stream; charset=utf-8")).toBe("sse");
    expect(streamFormat("application/json")).toBe("other");
    expect(streamFormat(null)).toBe("other");
    expect(streamErrorTail("ndjson", err, 10, "/v1/chat/completions")).toBe('{"error":"gone"}\n');
    expect(streamErrorTail("ndjson", err, -1, "/v1/chat/completions")).toBe('{"error":"gone"}\n');
    expect(streamErrorTail("ndjson", err, 125, "/v1/chat/completions")).toBe('\n{"error":"gone"}\n');
    const event = 'event: error\ndata: {"error":{"message":"gone","type":"server_error","code":"tunnel_offline","param":null}}\n\n';
    expect(streamErrorTail("sse", err, -1, "/v1/chat/completions")).toBe(event);
    expect(streamErrorTail("sse", err, 10, "/v1/chat/completions")).toBe("\n" + event);
    expect(streamErrorTail("sse", err, 125, "/v1/chat/completions")).toBe("\n\n" + event);
    expect(streamErrorTail("other", err, 10, "/v1/chat/completions")).toBeNull();
  });

  test("an SSE stream's error event is in the shape of the API its path names: Responses' own event on /v1/responses", () => {
    // OpenAI's Responses stream error event (openai-js hands it to the caller as an event of type "error").
    expect(streamErrorTail("sse", err, 10, "/v1/responses")).toBe('\nevent: error\ndata: {"type":"error","code":"tunnel_offline","message":"gone","param":null}\n\n');
    expect(streamErrorTail("sse", err, -1, "/V1/%72esponses?x=1")).toStartWith('event: error\ndata: {"type":"error","code"');
    expect(sseErrorShape("/v1/messages/count_tokens")).toBe("anthropic");
    expect(sseErrorShape("/v1/responsesx")).toBe("chat");
    expect(sseErrorShape("/v1/completions")).toBe("chat");
    expect(sseErrorData("chat", "upstream_error", "m")).toEqual(errorBody("openai", "upstream_error", "m"));
    expect(sseErrorData("anthropic", "upstream_error", "m")).toEqual(errorBody("anthropic", "upstream_error", "m"));
  });
});

describe("Anthropic's dialect (/v1/messages)", () => {
  test("/v1/messages and under it are Anthropic's; the rest of /v1 stays OpenAI's", () => {
    for (const p of ["/v1/messages", "/v1/messages/count_tokens", "/v1/messages?beta=true"]) expect(dialectOf(p)).toBe("anthropic");
    expect(dialectOf("/v1/messagesx")).toBe("openai");
    expect(dialectOf("/v1/responses")).toBe("openai");
  });

  test("each status gets the error type Anthropic's API sends for it, in its shape, with the stable code header", async () => {
    const cases: [Parameters<typeof dialectError>[1], number, string][] = [
      ["bad_request", 400, "invalid_request_error"],
      ["unauthorized", 401, "authentication_error"],
      ["forbidden", 403, "permission_error"],
      ["not_found", 404, "not_found_error"],
      ["payload_too_large", 413, "request_too_large"],
      ["rate_limited", 429, "rate_limit_error"],
      ["internal", 500, "api_error"],
      ["upstream_error", 502, "api_error"],
      ["unavailable", 503, "overloaded_error"],
      ["upstream_timeout", 504, "timeout_error"],
      ["validation_failed", 422, "invalid_request_error"],
    ];
    for (const [code, status, type] of cases) {
      const r = dialectError("/v1/messages", code, `m ${code}`);
      expect(r.status).toBe(status);
      expect(r.headers.get(ERROR_CODE_HEADER)).toBe(code);
      expect(await r.json()).toEqual({ type: "error", error: { type, message: `m ${code}` } });
    }
    expect(errorBody("anthropic", "upstream_error", "busy", 529)).toEqual({ type: "error", error: { type: "overloaded_error", message: "busy" } });
  });

  test("a Messages stream that breaks off ends with an SSE error event in Anthropic's shape", () => {
    const tail = streamErrorTail("sse", new HttpError("upstream_error", "broke off"), 10, "/v1/messages");
    expect(tail).toBe(`\nevent: error\ndata: {"type":"error","error":{"type":"api_error","message":"broke off"}}\n\n`);
  });
});
