// The chat page as the relay serves it: strict CSP on every file, only same-origin references, no other host in the bundle.
import { describe, expect, test } from "bun:test";
import { chatCsp, chatPage, isChatPath } from "./chat-route.ts";
import { parseRelayConfig, type RelayConfig } from "./config.ts";
import { CHAT_CSS, CHAT_HTML, CHAT_JS, CHAT_VERSION } from "./chat-assets.ts";

function config(toml = ""): RelayConfig {
  const r = parseRelayConfig(toml);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}
const get = (path: string, method = "GET", c = config()) => chatPage(new Request(`http://relay.test${path}`, { method }), path, c);

describe("the relay's chat page files", () => {
  test("/chat, its script and its style answer with their types and a CSP that allows only this origin", async () => {
    for (const [path, type] of [["/chat", "text/html"], ["/chat/app.js", "text/javascript"], ["/chat/app.css", "text/css"]] as const) {
      expect(isChatPath(path)).toBe(true);
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toStartWith(type);
      expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
      expect(res.headers.get("content-security-policy")).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
      expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    }
    expect(isChatPath("/chat/other")).toBe(false);
  });

  test("sign-in is offered only with [oidc] chat_client_id, and only then may the page connect to the issuer", async () => {
    expect(await (await get("/chat/config.json")).json()).toEqual({ signIn: null });
    expect(chatCsp(config())).toContain("connect-src 'self';");
    const oidc = config(`[oidc]\nissuer = "https://id.example.com/realms/x"\naudience = "https://relay.example.com"\nchat_client_id = "c2l-chat"\n`);
    expect(await (await get("/chat/config.json", "GET", oidc)).json()).toEqual({ signIn: { issuer: "https://id.example.com/realms/x", client_id: "c2l-chat", audience: "https://relay.example.com" } });
    expect(chatCsp(oidc)).toContain("connect-src 'self' https://id.example.com;");
    const bad = parseRelayConfig(`[oidc]\nchat_client_id = "c2l-chat"\n`);
    expect(bad.ok ? [] : bad.issues.map((i) => i.message)).toContain("the chat page's sign-in needs [oidc] issuer to be set");
  });

  test("script and style are cached an hour under this build's version only; another version's URL (a shell from a node not yet upgraded) gets them uncached", async () => {
    for (const f of ["/chat/app.js", "/chat/app.css"]) {
      const at = (v: string) => chatPage(new Request(`http://relay.test${f}?v=${v}`), f, config());
      expect((await at(CHAT_VERSION)).headers.get("cache-control")).toBe("public, max-age=3600");
      expect((await at("0123abcd")).headers.get("cache-control")).toBe("no-cache");
    }
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
