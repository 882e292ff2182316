// The broker's estimate of a Messages request's input tokens.
import { expect, test } from "bun:test";
import { HttpError } from "../../../core/http-error.ts";
import { estimateInputTokens, IMAGE_TOKENS } from "./count-tokens.ts";

test("text of the system prompt, turns, tool use and results, one token per 4 bytes; a fixed cost per image", () => {
  expect(estimateInputTokens({ model: "m", system: "12345678", messages: [{ role: "user", content: "abcd" }] })).toBe(3);
  const n = estimateInputTokens({
    model: "m",
    messages: [
      { role: "user", content: [{ type: "text", text: "abcd" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "x".repeat(100_000) } }] },
      { role: "assistant", content: [{ type: "tool_use", id: "t", name: "ab", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: "abcdefgh" }] },
    ],
  });
  // The image's base64 is not counted as text: 4 + (2 + 2) + 8 = 16 bytes → 4 tokens.
  expect(n).toBe(4 + IMAGE_TOKENS);
  expect(estimateInputTokens({ model: "m", messages: [], tools: [{ name: "t" }] })).toBe(Math.ceil(JSON.stringify([{ name: "t" }]).length / 4));
  expect(() => estimateInputTokens({ model: "m" } as never)).toThrow(HttpError);
});
