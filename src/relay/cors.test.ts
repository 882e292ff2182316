// CORS on the relay: origin entries and patterns, preflights before authentication, headers on every allowed answer,
// per-tunnel narrowing, and the config errors that refuse "*", paths and widening tunnel lists.
import { expect, test } from "bun:test";
import { HttpError } from "../core/http-error.ts";
import { hashToken } from "./auth.ts";
import { formatIssue, parseRelayConfig } from "./config.ts";
import { createRelayCors, entryWithin, originMatches } from "./cors.ts";

const H = hashToken("tok-123456");
const cfg = (text: string) => {
  const r = parseRelayConfig(text);
  if (!r.ok) throw new Error(r.issues.map(formatIssue).join("\n"));
  return r.config;
};
const settings = cfg(`[cors]\nallowed_origins = ["https://app.example.com", "https://*.apps.example.org", "http://127.0.0.1:5173"]
[[tunnels]]\nid = "a"\nagent_token_sha256 = "${H}"
[[tunnels]]\nid = "b"\nagent_token_sha256 = "${hashToken("other-token")}"\nallowed_origins = ["https://app.example.com"]\n`);
const preflight = (origin: string | null, method = "OPTIONS") =>
  new Request("http://relay/t/a/api/chat", { method, headers: { ...(origin ? { origin } : {}), "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } });

test("origins match exactly or as subdomains of a pattern, never by prefix or another scheme or port", () => {
  expect(originMatches("https://app.example.com", "https://app.example.com")).toBe(true);
  expect(originMatches("https://APP.example.com", "https://app.example.com")).toBe(true);
  expect(originMatches("https://app.example.com.evil.net", "https://app.example.com")).toBe(false);
  expect(originMatches("http://app.example.com", "https://app.example.com")).toBe(false);
  expect(originMatches("https://x.apps.example.org", "https://*.apps.example.org")).toBe(true);
  expect(originMatches("https://a.b.apps.example.org", "https://*.apps.example.org")).toBe(true);
  expect(originMatches("https://apps.example.org", "https://*.apps.example.org")).toBe(false);
  expect(originMatches("https://evilapps.example.org", "https://*.apps.example.org")).toBe(false);
  expect(originMatches("https://x.apps.example.org:8443", "https://*.apps.example.org")).toBe(false);
  expect(originMatches("http://x.apps.example.org", "https://*.apps.example.org")).toBe(false);
  expect(originMatches("null", "https://app.example.com")).toBe(false);
  expect(entryWithin("https://*.eu.apps.example.org", "https://*.apps.example.org")).toBe(true);
  expect(entryWithin("https://*.example.org", "https://*.apps.example.org")).toBe(false);
  expect(entryWithin("https://*.apps.example.org", "https://x.apps.example.org")).toBe(false);
});

test("a preflight from an allowed origin is answered 204 before authentication, allowing the relay's headers and methods", () => {
  const cors = createRelayCors(settings);
  const res = cors.preflight(preflight("https://app.example.com")) as Response;
  expect(res.status).toBe(204);
  expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
  expect(res.headers.get("access-control-allow-headers")).toBe("Authorization, Content-Type, x-api-key, X-C2L-Tunnel, authorization, content-type");
  // The official clients' own headers (openai, @anthropic-ai/sdk in a browser) are granted, or the browser refuses the call;
  // a list that is not header names is not echoed.
  const ask = (list: string) => new Request("http://relay/t/a/v1/messages", { method: "OPTIONS", headers: { origin: "https://app.example.com", "access-control-request-method": "POST", "access-control-request-headers": list } });
  const sdk = "anthropic-dangerous-direct-browser-access,anthropic-version,content-type,x-api-key,x-stainless-arch,x-stainless-retry-count";
  expect((cors.preflight(ask(sdk)) as Response).headers.get("access-control-allow-headers")).toBe(`Authorization, Content-Type, x-api-key, X-C2L-Tunnel, ${sdk}`);
  expect((cors.preflight(ask("x-a; x-b=1")) as Response).headers.get("access-control-allow-headers")).toBe("Authorization, Content-Type, x-api-key, X-C2L-Tunnel");
  expect((cors.preflight(ask("a b")) as Response).headers.get("access-control-allow-headers")).toBe("Authorization, Content-Type, x-api-key, X-C2L-Tunnel");
  expect(res.headers.get("access-control-allow-methods")).toContain("POST");
  expect(res.headers.get("access-control-max-age")).toBe("600");
  expect(res.headers.get("vary")).toContain("Origin");
  expect(res.headers.get("access-control-allow-credentials")).toBeNull();
  // Not preflights: no Origin, not OPTIONS, or an OPTIONS without Access-Control-Request-Method.
  expect(cors.preflight(preflight(null))).toBeNull();
  expect(cors.preflight(preflight("https://app.example.com", "POST"))).toBeNull();
  expect(cors.preflight(new Request("http://relay/t/a/", { method: "OPTIONS", headers: { origin: "https://app.example.com" } }))).toBeNull();
});

test("a foreign origin's preflight is a 403 origin_not_allowed naming the setting; its answers get no CORS headers", () => {
  const cors = createRelayCors(settings);
  const refused = cors.preflight(preflight("https://evil.example.net"));
  expect(refused).toBeInstanceOf(HttpError);
  expect((refused as HttpError).status).toBe(403);
  expect((refused as HttpError).code).toBe("origin_not_allowed");
  expect((refused as HttpError).message).toContain('the origin "https://evil.example.net" may not call this relay from a browser; the relay\'s operator adds it to [cors] allowed_origins');
  const req = new Request("http://relay/t/a/api/chat", { method: "POST", headers: { origin: "https://evil.example.net" } });
  const answer = cors.decorate(req, Response.json({ error: "x" }, { status: 401 }), "a");
  expect([...answer.headers.keys()].filter((k) => k.startsWith("access-control") || k === "vary")).toEqual([]);
  // A local server's own CORS headers never pass: the relay alone decides which pages read a tunnel's answers.
  const upstreamStar = () => new Response("{}", { headers: { "access-control-allow-origin": "*", "access-control-allow-headers": "*" } });
  for (const r of [req, new Request("http://relay/t/a/api/tags")]) {
    const passed = cors.decorate(r, upstreamStar(), "a");
    expect([...passed.headers.keys()].filter((k) => k.startsWith("access-control"))).toEqual([]);
  }
  const mine = cors.decorate(new Request("http://relay/t/a/api/tags", { headers: { origin: "https://app.example.com" } }), upstreamStar(), "a");
  expect(mine.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
  expect(mine.headers.get("access-control-allow-headers")).toBeNull();
});

test("every answer to an allowed origin carries ACAO, Vary: Origin and the exposed headers (immutable headers too)", async () => {
  const cors = createRelayCors(settings);
  const req = new Request("http://relay/t/a/api/chat", { method: "POST", headers: { origin: "https://x.apps.example.org" } });
  for (const status of [200, 401, 429, 502]) {
    const res = cors.decorate(req, new Response("{}", { status, headers: { vary: "Accept-Encoding" } }), "a");
    expect(res.status).toBe(status);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://x.apps.example.org");
    expect(res.headers.get("vary")).toBe("Accept-Encoding, Origin");
    expect(res.headers.get("access-control-expose-headers")).toBe("x-c2l-error-code, Retry-After, X-Should-Retry, X-Queue-Position, Server-Timing, X-Request-Id, Request-Id");
  }
  // A fetched answer (a cluster node relaying another's) has immutable headers: copied, body still streamed.
  const srv = Bun.serve({ port: 0, fetch: () => new Response("streamed") });
  try {
    const fetched = await fetch(`http://127.0.0.1:${srv.port}/`);
    const res = cors.decorate(req, fetched, "a");
    expect(res.headers.get("access-control-allow-origin")).toBe("https://x.apps.example.org");
    expect(await res.text()).toBe("streamed");
  } finally {
    srv.stop(true);
  }
});

test("a preflight is answered on [cors] alone, whatever tunnel it names: a tunnel's own list says nothing before a key", () => {
  const cors = createRelayCors(settings);
  const to = (id: string) => new Request(`http://relay/t/${id}/api/chat`, { method: "OPTIONS", headers: { origin: "http://127.0.0.1:5173", "access-control-request-method": "POST" } });
  // "b" narrows [cors] to app.example.com, "a" does not, "nope" does not exist: the same 204 for each.
  const answers = ["a", "b", "nope"].map((id) => {
    const r = cors.preflight(to(id)) as Response;
    return { status: r.status, headers: [...r.headers] };
  });
  expect(answers[0]!.status).toBe(204);
  expect(answers[1]).toEqual(answers[0]!);
  expect(answers[2]).toEqual(answers[0]!);
});

test("an origin_not_allowed answer carries no CORS headers, even to an origin [cors] allows", () => {
  const cors = createRelayCors(settings);
  const req = new Request("http://relay/t/b/api/chat", { method: "POST", headers: { origin: "http://127.0.0.1:5173" } });
  const refused = cors.decorate(req, cors.refusal(req, "b")!.toDialectResponse("/api/chat"), null);
  expect(refused.status).toBe(403);
  expect([...refused.headers.keys()].filter((k) => k.startsWith("access-control"))).toEqual([]);
  // Any other answer to that origin, decorated on [cors] alone, carries them.
  expect(cors.decorate(req, Response.json({}, { status: 401 }), null).headers.get("access-control-allow-origin")).toBe("http://127.0.0.1:5173");
});

test("a call (not a preflight) is refused only from an origin [cors] allows and the tunnel's own list does not", () => {
  const cors = createRelayCors(settings);
  const call = (origin: string | null) => new Request("http://relay/me/api/chat", { method: "POST", headers: origin ? { origin } : {} });
  const err = cors.refusal(call("http://127.0.0.1:5173"), "b")!;
  expect(err).toBeInstanceOf(HttpError);
  expect(err.code).toBe("origin_not_allowed");
  expect(err.message).toContain(`tunnel "b"'s allowed_origins`);
  // The tunnel's own origin; a tunnel with no list; no Origin (not a browser, or a same-origin GET); an origin [cors]
  // refuses (its preflight was refused already; the relay's own chat page sends its origin and needs no CORS).
  expect(cors.refusal(call("https://app.example.com"), "b")).toBeNull();
  expect(cors.refusal(call("http://127.0.0.1:5173"), "a")).toBeNull();
  expect(cors.refusal(call(null), "b")).toBeNull();
  expect(cors.refusal(call("https://relay.example.net"), "b")).toBeNull();
});

test("config errors: \"*\", paths, trailing slashes, bare patterns, and a tunnel list that widens the relay's", () => {
  const cases: [string, RegExp][] = [
    [`[cors]\nallowed_origins = ["*"]`, /cors.allowed_origins\[0\]: "\*" would let any web page call the relay with credentials/],
    [`[cors]\nallowed_origins = ["https://app.example.com/"]`, /cors.allowed_origins\[0\]: "https:\/\/app.example.com\/" is not an origin/],
    [`[cors]\nallowed_origins = ["https://app.example.com/chat"]`, /is not an origin: write scheme:\/\/host\[:port\]/],
    [`[cors]\nallowed_origins = ["app.example.com"]`, /is not an origin/],
    [`[cors]\nallowed_origins = ["https://*.com"]`, /a pattern needs a domain with at least two labels/],
    [`[cors]\nallowed_origins = ["https://a.example.com"]\n[[tunnels]]\nid = "a"\nagent_token_sha256 = "${H}"\nallowed_origins = ["https://b.example.com"]`,
      /tunnels\[0\].allowed_origins\[0\]: "https:\/\/b.example.com" is not allowed by \[cors\] allowed_origins; a tunnel's list only narrows/],
    [`[cors]\nalowed_origins = []`, /unknown key "alowed_origins"/],
  ];
  for (const [text, re] of cases) {
    const r = parseRelayConfig(text, "relay.toml");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map(formatIssue).join("\n")).toMatch(re);
  }
  expect(parseRelayConfig(`[[tunnels]]\nid = "a"\nagent_token_sha256 = "${H}"\n`).ok).toBe(true);
});
