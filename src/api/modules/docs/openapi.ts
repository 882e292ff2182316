// The OpenAPI documents (the control API's from @elysiajs/swagger at /swagger/json, the broker's at /api/v1/docs/broker.json) and an
// offline Swagger UI whose scripts and styles are embedded in the binary; opened from a dashboard session, its "Try it out" works.
import { Elysia, t } from "elysia";
import { swagger } from "@elysiajs/swagger";
// Embedded with the binary; served from /swagger/assets so the page never loads anything from another host.
// @ts-ignore -- a file import yields its path
import bundleJs from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
// @ts-ignore -- a file import yields its path
import uiCss from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
// @ts-ignore -- a file import yields its path
import presetJs from "swagger-ui-dist/swagger-ui-standalone-preset.js" with { type: "file" };
// @ts-ignore -- a file import yields its path
import initJs from "./swagger-init.js" with { type: "file" };
import { VERSION } from "../../../core/build-info.ts";
import { HttpError } from "../../../core/http-error.ts";
import { WS_MESSAGES } from "../ws/messages.ts";
import { DEFAULT_SECURITY, SECURITY_OF } from "../../security/policy.ts";
import { SESSION_COOKIE, sessionsFor } from "../../security/sessions.ts";
import { fromOtherUser, type PeerSource } from "../../../net/peer-uid.ts";
import { splitListen, isLoopbackHost } from "../../../config/listen.ts";
import { baseUrlOf } from "../../../core/listen-url.ts";
import type { ApiDeps } from "../../deps.ts";
import { brokerSpec } from "./broker-spec.ts";
import { withCsrfResponses } from "./csrf-responses.ts";
import { asOpenApi30 } from "./openapi-30.ts";
import { withMediaTypes } from "./media-types.ts";

const ASSETS: Record<string, { file: string; type: string }> = {
  "swagger-ui-bundle.js": { file: bundleJs as unknown as string, type: "text/javascript; charset=utf-8" },
  "swagger-ui.css": { file: uiCss as unknown as string, type: "text/css; charset=utf-8" },
  "swagger-ui-standalone-preset.js": { file: presetJs as unknown as string, type: "text/javascript; charset=utf-8" },
  "swagger-init.js": { file: initJs as unknown as string, type: "text/javascript; charset=utf-8" },
};

const SPEC_PATH = "/swagger/json";
export const BROKER_SPEC_PATH = "/api/v1/docs/broker.json";

function escapeAttr(v: string): string {
  return v.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * No inline script, no remote font. Opened by a browser with a dashboard session, the page carries that session's CSRF
 * token in a meta tag (as the dashboard's own page does): the HttpOnly cookie cannot be read by script, and Swagger UI's
 * request interceptor (swagger-init.js) sends the token with each change, so "Try it out" works without pasting a token.
 */
function page(csrf: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${escapeAttr(csrf)}">
<meta name="referrer" content="no-referrer">
<title>cloudtolocalllm-tunnel API documentation</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/swagger/assets/swagger-ui.css">
<style>body{margin:0;font-family:system-ui,sans-serif}</style>
</head>
<body>
<div id="swagger-ui"></div>
<script src="/swagger/assets/swagger-ui-bundle.js"></script>
<script src="/swagger/assets/swagger-ui-standalone-preset.js"></script>
<script src="/swagger/assets/swagger-init.js"></script>
</body>
</html>
`;
}

/**
 * The broker's address as it listens now: the bound one (a `:0` in the config is a port only the listener knows), else
 * `[proxy] listen`; a wildcard is reached through loopback, as the document's `servers` shows it.
 */
function brokerListen(deps: ApiDeps): string {
  const bound = deps.ctx.services.brokerUrl?.();
  const listen = bound ? new URL(bound).host : deps.ctx.config.current().proxy.listen;
  try {
    return new URL(baseUrlOf(listen)).host;
  } catch {
    return listen;
  }
}

/** The broker's origin when it listens on loopback: the page may call it ("Try it out" on the broker's document; it answers CORS for local pages). */
function brokerOrigin(listen: string): string | null {
  try {
    const { hostname, port } = splitListen(listen);
    if (!isLoopbackHost(hostname) || port === 0) return null;
    return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  } catch {
    return null;
  }
}

function csp(broker: string | null): string {
  // frame-ancestors: a page on another port of 127.0.0.1 is the same site, so a frame of it would load with the dashboard
  // session and its CSRF token, and a framer could click "Try it out" for the user (clickjacking); default-src does not cover it.
  return `default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'${broker ? ` ${broker}` : ""}; font-src 'self'; frame-ancestors 'none'`;
}

const DOCUMENTATION = {
  info: {
    title: "cloudtolocalllm-tunnel control API",
    version: VERSION,
    description:
      "Local control API of the daemon. Every route needs `Authorization: Bearer <token>` (the token is in " +
      "`$XDG_CONFIG_HOME/cloudtolocalllm/api-token`) or the dashboard's session cookie, unless its `security` is empty (public). " +
      "Every error is `{ \"error\": { \"code\", \"message\" } }`. A change made with the dashboard's cookie also needs its " +
      "CSRF token in `X-CSRF-Token` (else 403 `csrf_failed`); Swagger UI opened from a dashboard session sends it. " +
      "The broker's own API (Ollama and OpenAI routes) is described in the second document, " + BROKER_SPEC_PATH + ".",
  },
  tags: [
    { name: "health", description: "Liveness and readiness (no token)" },
    { name: "status", description: "The whole picture" },
    { name: "upstreams", description: "Upstream servers behind the broker" },
    { name: "models", description: "Models across upstreams" },
    { name: "metrics", description: "JSON and Prometheus metrics" },
    { name: "tunnel", description: "Outbound tunnel to the relay" },
    { name: "config", description: "Config file: read, write, validate, backups" },
    { name: "version", description: "Versions and compatibility" },
    { name: "events", description: "Recent events and the /ws live stream" },
  ],
  // Elysia does not document WebSocket routes; /ws is described by hand from the message table.
  paths: {
    "/ws": {
      get: {
        tags: ["events"],
        summary: "Live events over WebSocket",
        description:
          "Upgrade to a WebSocket (needs the bearer token; browsers only from an allowed Origin). Messages are JSON: " +
          Object.entries(WS_MESSAGES)
            .map(([type, m]) => `\`${type}\` — ${m.when} data: ${m.data}`)
            .join("; "),
        responses: { "101": { description: "Switching Protocols" }, "401": { description: "No or wrong token" }, "403": { description: "Origin or Host not allowed" } },
      },
    },
  },
  // The default for every route; public routes say `security: []` on their own operation (src/api/security/policy.ts).
  security: DEFAULT_SECURITY,
  components: {
    securitySchemes: {
      bearer: { type: "http" as const, scheme: "bearer", description: "The token from the api-token file." },
      session: {
        type: "apiKey" as const,
        in: "cookie",
        name: SESSION_COOKIE,
        description: "The dashboard's session (from a one-time /auth link); changes also need the X-CSRF-Token header and the API's own Origin.",
      },
    },
  },
};

export const openapi = (deps: ApiDeps) => {
  const plugin = swagger({ path: "/swagger", specPath: SPEC_PATH, exclude: [/^\/swagger/, BROKER_SPEC_PATH], documentation: DOCUMENTATION });
  // The plugin builds the document; the route below serves it with the csrf_failed answers added (csrf-responses.ts), in
  // the OpenAPI 3.0 it declares (openapi-30.ts), with the media types the API really reads and answers (media-types.ts).
  const build = plugin.routes.find((r) => r.method === "GET" && r.path === SPEC_PATH)!.handler as () => object;
  return (
    new Elysia({ name: "openapi" })
      // The documentation itself is public: the UI page cannot send a token. A standalone guard covers the plugin's routes too.
      .guard({ detail: { security: SECURITY_OF.public } })
      .use(plugin)
      // Registered after the plugin, so these answer /swagger/json and /swagger (not the plugin's CDN-loading page).
      .get(SPEC_PATH, () => withMediaTypes(asOpenApi30(withCsrfResponses(build()))), { detail: { hide: true } })
      .get(
        "/swagger",
        ({ request, server }) => {
          // The session's CSRF token only for the daemon's own user (security/auth.ts: the cookie reaches every port).
          const session = fromOtherUser(server as PeerSource | null, request) ? null : sessionsFor(deps.ctx).fromRequest(request);
          const broker = brokerOrigin(brokerListen(deps));
          return new Response(page(session?.csrf ?? ""), {
            // A page carrying a session's CSRF token is not cached anywhere.
            headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": csp(broker), "x-frame-options": "DENY", "cache-control": "no-store" },
          });
        },
        { detail: { hide: true } },
      )
      .get(BROKER_SPEC_PATH, () => brokerSpec({ version: VERSION, listen: brokerListen(deps) }), { detail: { hide: true } })
      .get(
        "/swagger/assets/:file",
        ({ params }) => {
          // Own keys only: "constructor" or "__proto__" is no asset (an inherited property was a 500).
          const a = Object.hasOwn(ASSETS, params.file) ? ASSETS[params.file] : undefined;
          if (!a) throw new HttpError("not_found", `no Swagger UI asset named "${params.file}"`);
          return new Response(Bun.file(a.file), { headers: { "content-type": a.type, "cache-control": "public, max-age=86400" } });
        },
        { params: t.Object({ file: t.String() }), detail: { hide: true } },
      )
  );
};
