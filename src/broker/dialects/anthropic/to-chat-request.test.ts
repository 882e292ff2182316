// A Messages request translated to a chat completions request, and the 400s of what cannot be.
import { describe, expect, test } from "bun:test";
import { HttpError } from "../../../core/http-error.ts";
import { toChatRequest } from "./to-chat-request.ts";
import type { AnthropicRequest } from "./types.ts";

// Shapes from Anthropic's Messages API reference (docs.anthropic.com/en/api/messages) and OpenAI's chat completions.
const req = (r: Partial<AnthropicRequest>): AnthropicRequest => ({ model: "claude-x", max_tokens: 64, messages: [], ...r });

describe("toChatRequest", () => {
  test("structured outputs (output_config.format, or the beta's output_format) become a strict json_schema response_format", () => {
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false };
    const want = { type: "json_schema" as const, json_schema: { name: "output", schema, strict: true } };
    expect(toChatRequest(req({ output_config: { format: { type: "json_schema", schema }, effort: "low" } })).response_format).toEqual(want);
    expect(toChatRequest(req({ output_format: { type: "json_schema", schema } })).response_format).toEqual(want);
    expect(toChatRequest(req({ output_config: { effort: "high" } })).response_format).toBeUndefined();
    expect(() => toChatRequest(req({ output_config: { format: { type: "xml" } as never } }))).toThrow('"output_config.format" must be');
  });

  test("system prompt (string or text blocks), sampling, stop sequences, stream with usage asked", () => {
    expect(toChatRequest(req({ system: "be brief", messages: [{ role: "user", content: "hi" }], temperature: 0.2, top_p: 0.9, top_k: 5, stop_sequences: ["END"], stream: true, metadata: { user_id: "u1" } }))).toEqual({
      model: "claude-x",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hi" },
      ],
      max_tokens: 64,
      stop: ["END"],
      temperature: 0.2,
      top_p: 0.9,
      user: "u1",
      stream: true,
      stream_options: { include_usage: true },
    });
    const blocks = toChatRequest(req({ system: [{ type: "text", text: "one" }, { type: "text", text: "two" }], messages: [{ role: "user", content: "x" }] }));
    expect(blocks.messages[0]).toEqual({ role: "system", content: "one\ntwo" });
    expect(blocks.stream).toBeUndefined();
  });

  test("text blocks join into one string; images (base64 and URL) become image_url parts", () => {
    const out = toChatRequest(
      req({
        messages: [
          { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] },
          { role: "assistant", content: [{ type: "text", text: "ok" }] },
          {
            role: "user",
            content: [
              { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
              { type: "image", source: { type: "url", url: "https://example.com/a.jpg" } },
              { type: "text", text: "what is this?" },
            ],
          },
        ],
      }),
    );
    expect(out.messages).toEqual([
      { role: "user", content: "a\nb" },
      { role: "assistant", content: "ok" },
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
          { type: "image_url", image_url: { url: "https://example.com/a.jpg" } },
          { type: "text", text: "what is this?" },
        ],
      },
    ]);
  });

  test("a strict tool (its input guaranteed to match the schema) is a strict function", () => {
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false };
    expect(toChatRequest(req({ tools: [{ name: "a", input_schema: schema, strict: true }, { name: "b", input_schema: schema, strict: false }] })).tools).toEqual([
      { type: "function", function: { name: "a", parameters: schema, strict: true } },
      { type: "function", function: { name: "b", parameters: schema } },
    ]);
  });

  test("tools, tool_choice, tool_use → tool_calls and tool_result → role tool (before the user's text)", () => {
    const out = toChatRequest(
      req({
        tools: [
          { name: "get_weather", description: "Weather of a city", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
          { type: "web_search_20250305", name: "web_search" },
        ],
        tool_choice: { type: "tool", name: "get_weather", disable_parallel_tool_use: true },
        messages: [
          { role: "user", content: "weather in Paris?" },
          { role: "assistant", content: [{ type: "thinking", thinking: "hmm", signature: "s" }, { type: "text", text: "Checking." }, { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } }] },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "18°C" }] },
              { type: "text", text: "and tomorrow?" },
            ],
          },
          { role: "assistant", content: [{ type: "tool_use", id: "toolu_2", name: "get_weather", input: { city: "Paris" } }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_2", content: "no data", is_error: true }] },
        ],
      }),
    );
    expect(out.tools).toEqual([{ type: "function", function: { name: "get_weather", description: "Weather of a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }]);
    expect(out.tool_choice).toEqual({ type: "function", function: { name: "get_weather" } });
    expect(out.parallel_tool_calls).toBe(false);
    expect(out.messages).toEqual([
      { role: "user", content: "weather in Paris?" },
      { role: "assistant", content: "Checking.", tool_calls: [{ id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "toolu_1", content: "18°C" },
      { role: "user", content: "and tomorrow?" },
      { role: "assistant", content: null, tool_calls: [{ id: "toolu_2", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "toolu_2", content: "Error: no data" },
    ]);
    for (const [choice, want] of [
      [{ type: "auto" }, "auto"],
      [{ type: "any" }, "required"],
      [{ type: "none" }, "none"],
    ] as const)
      expect(toChatRequest(req({ tools: [{ name: "t" }], tool_choice: choice, messages: [] })).tool_choice).toBe(want);
  });

  test("an image in a tool result goes to a user turn right after the tool message", () => {
    const out = toChatRequest(
      req({
        messages: [
          { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "shot", input: {} }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: "screenshot" }, { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "AAA" } }] }] },
        ],
      }),
    );
    expect(out.messages.slice(1)).toEqual([
      { role: "tool", tool_call_id: "t1", content: "screenshot" },
      { role: "user", content: [{ type: "image_url", image_url: { url: "data:image/jpeg;base64,AAA" } }] },
    ]);
  });

  test("bad input is a 400 that names the field", () => {
    const msg = (r: unknown) => {
      try {
        toChatRequest(r as AnthropicRequest);
      } catch (e) {
        expect(e).toBeInstanceOf(HttpError);
        expect((e as HttpError).status).toBe(400);
        return (e as Error).message;
      }
      throw new Error("no error");
    };
    expect(msg({ model: "m" })).toContain('"messages"');
    expect(msg(req({ messages: [{ role: "system" as "user", content: "x" }] }))).toContain("messages[0].role");
    expect(msg(req({ messages: [{ role: "user", content: [{ type: "image", source: { type: "file" } } as never] }] }))).toContain("messages[0].content[0]");
    expect(msg(req({ messages: [{ role: "user", content: [{ type: "document", source: { type: "base64", media_type: "application/pdf", data: "x" } }] }] }))).toContain('source type "base64"');
    expect(msg(req({ system: [{ type: "image" } as never], messages: [] }))).toContain('"system[0]"');
  });
});

describe("reasoning asked for", () => {
  test("output_config.effort, else an enabled thinking's budget, is reasoning_effort; what cannot be read is a 400 naming it", () => {
    const effort = (r: Partial<AnthropicRequest>) => toChatRequest(req(r)).reasoning_effort;
    expect(effort({ thinking: { type: "enabled", budget_tokens: 1024 } })).toBe("low");
    expect(effort({ thinking: { type: "enabled", budget_tokens: 4096 } })).toBe("medium");
    expect(effort({ thinking: { type: "enabled", budget_tokens: 16384 } })).toBe("high");
    expect(effort({ thinking: { type: "enabled", budget_tokens: 1024 }, output_config: { effort: "max" } })).toBe("high");
    expect(effort({ thinking: { type: "disabled" } })).toBeUndefined();
    expect(effort({ thinking: { type: "adaptive" } })).toBeUndefined();
    expect(() => effort({ thinking: { type: "sometimes" } as never })).toThrow('"thinking.type"');
    expect(() => effort({ thinking: { type: "enabled" } as never })).toThrow('"thinking.budget_tokens"');
    expect(() => effort({ output_config: { effort: "extreme" } })).toThrow('"output_config.effort"');
  });
});
