// The chat page as the relay serves it: strict CSP on every file, only same-origin references, no other host in the bundle.
import { describe, expect, test } from "bun:test";
import { chatPage, isChatPath } from "./chat-route.ts";
import { CHAT_CSS, CHAT_HTML, CHAT_JS, CHAT_VERSION } from "./chat-assets.ts";

const get = (path: string, method = "GET") => chatPage(new Request(`http://relay.test${path}`, { method }), path);

describe("the relay's chat page files", () => {
  test("/chat, its script and its style answer with their types and a CSP that allows only this origin", async () => {
    for (const [path, type] of [["/chat", "text/html"], ["/chat/app.js", "text/javascript"], ["/chat/app.css", "text/css"]] as const) {
      expect(isChatPath(path)).toBe(true);
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toStartWith(type);
      expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
      expect(res.headers.get("content-security-policy")).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    }
    expect(isChatPath("/chat/other")).toBe(false);
  });

  test("other methods are refused with 405 and an Allow header", async () => {
    const res = await get("/chat", "POST");
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
  });

  test("the shell loads only same-origin files and the bundle names no other host", () => {
    const refs = [...CHAT_HTML.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    expect(refs).toEqual([`/chat/app.css?v=${CHAT_VERSION}`, `/chat/app.js?v=${CHAT_VERSION}`]);
    expect(CHAT_JS.length).toBeGreaterThan(1_000);
    expect(CHAT_JS).not.toMatch(/["'`](?:https?:|wss?:)?\/\/[a-z0-9]/i);
    expect(CHAT_CSS).not.toMatch(/@import|url\(/i);
    expect(CHAT_HTML).not.toContain("{{");
  });
});
