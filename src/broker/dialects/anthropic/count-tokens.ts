// /v1/messages/count_tokens answered by the broker for upstreams without it: an estimate from the text a model would read.
import { HttpError } from "../../../core/http-error.ts";
import { BYTES_PER_TOKEN } from "../../usage.ts";
import type { AnthropicBlock, AnthropicRequest } from "./types.ts";

/** What an image costs a vision model, roughly: Anthropic's own estimate for a full-size image (width × height / 750). */
export const IMAGE_TOKENS = 1600;

const bytes = (s: string): number => Buffer.byteLength(s, "utf8");

function blockBytes(b: AnthropicBlock): { text: number; images: number } {
  switch (b?.type) {
    case "text":
      return { text: bytes(b.text ?? ""), images: 0 };
    case "image":
      return { text: 0, images: 1 };
    case "tool_use":
      return { text: bytes(b.name ?? "") + bytes(JSON.stringify(b.input ?? {})), images: 0 };
    case "tool_result": {
      if (typeof b.content === "string") return { text: bytes(b.content), images: 0 };
      const parts = (Array.isArray(b.content) ? b.content : []).map(blockBytes);
      return { text: parts.reduce((n, p) => n + p.text, 0), images: parts.reduce((n, p) => n + p.images, 0) };
    }
    case "document":
      return { text: bytes(b.source?.data ?? ""), images: 0 };
    case "thinking":
      return { text: bytes(b.thinking ?? ""), images: 0 };
    default:
      return { text: 0, images: 0 };
  }
}

/**
 * The prompt's tokens, estimated as the broker estimates any prompt (usage.ts): one token per BYTES_PER_TOKEN bytes of
 * the system prompt, the messages' text, tool calls and results, and the tool definitions; IMAGE_TOKENS per image.
 */
export function estimateInputTokens(req: AnthropicRequest): number {
  if (!req || typeof req !== "object" || !Array.isArray(req.messages)) throw new HttpError("bad_request", '"messages" must be an array of {"role","content"} turns');
  let text = 0;
  let images = 0;
  if (typeof req.system === "string") text += bytes(req.system);
  else if (Array.isArray(req.system)) for (const s of req.system) text += bytes(s?.text ?? "");
  for (const m of req.messages) {
    if (typeof m?.content === "string") text += bytes(m.content);
    else if (Array.isArray(m?.content))
      for (const b of m.content) {
        const c = blockBytes(b);
        text += c.text;
        images += c.images;
      }
  }
  if (Array.isArray(req.tools)) text += bytes(JSON.stringify(req.tools));
  return Math.ceil(text / BYTES_PER_TOKEN) + images * IMAGE_TOKENS;
}
