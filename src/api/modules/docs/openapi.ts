// The OpenAPI document (@elysiajs/swagger at /swagger/json) and an offline Swagger UI whose scripts and styles are embedded in the binary.
import { Elysia, t } from "elysia";
import { swagger } from "@elysiajs/swagger";
// Embedded with the binary; served from /swagger/assets so the page never loads anything from another host.
// @ts-ignore -- a file import yields its path
import bundleJs from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
// @ts-ignore -- a file import yields its path
import uiCss from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
// @ts-ignore -- a file import yields its path
import initJs from "./swagger-init.js" with { type: "file" };
import { VERSION } from "../../../core/build-info.ts";
import { HttpError } from "../../../core/http-error.ts";
import { WS_MESSAGES } from "../ws/messages.ts";
import { DEFAULT_SECURITY, SECURITY_OF } from "../../security/policy.ts";
import { SESSION_COOKIE } from "../../security/sessions.ts";

const ASSETS: Record<string, { file: string; type: string }> = {
  "swagger-ui-bundle.js": { file: bundleJs as unknown as string, type: "text/javascript; charset=utf-8" },
  "swagger-ui.css": { file: uiCss as unknown as string, type: "text/css; charset=utf-8" },
  "swagger-init.js": { file: initJs as unknown as string, type: "text/javascript; charset=utf-8" },
};

// No inline script, no remote font, and a CSP that would block any other host if something tried.
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cloudtolocalllm-tunnel control API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/swagger/assets/swagger-ui.css">
<style>body{margin:0;font-family:system-ui,sans-serif}</style>
</head>
<body>
<div id="swagger-ui"></div>
<script src="/swagger/assets/swagger-ui-bundle.js"></script>
<script src="/swagger/assets/swagger-init.js"></script>
</body>
</html>
`;

const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; font-src 'self'";

export default new Elysia({ name: "openapi" })
  // The documentation itself is public: the UI page cannot send a token. A standalone guard covers the plugin's routes too.
  .guard({ detail: { security: SECURITY_OF.public } })
  .use(
    swagger({
      path: "/swagger",
      specPath: "/swagger/json",
      exclude: [/^\/swagger/],
      documentation: {
        info: {
          title: "cloudtolocalllm-tunnel control API",
          version: VERSION,
          description:
            "Local control API of the daemon. Every route needs `Authorization: Bearer <token>` (the token is in " +
            "`$XDG_CONFIG_HOME/cloudtolocalllm/api-token`) or the dashboard's session cookie, unless its `security` is empty (public). " +
            "Every error is `{ \"error\": { \"code\", \"message\" } }`.",
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
            bearer: { type: "http", scheme: "bearer", description: "The token from the api-token file." },
            session: {
              type: "apiKey",
              in: "cookie",
              name: SESSION_COOKIE,
              description: "The dashboard's session (from a one-time /auth link); changes also need the X-CSRF-Token header and the API's own Origin.",
            },
          },
        },
      },
    }),
  )
  // Registered after the plugin so that this page, not the plugin's CDN-loading one, answers /swagger.
  .get("/swagger", () => new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": CSP } }), {
    detail: { hide: true },
  })
  .get(
    "/swagger/assets/:file",
    ({ params }) => {
      const a = ASSETS[params.file];
      if (!a) throw new HttpError("not_found", `no Swagger UI asset named "${params.file}"`);
      return new Response(Bun.file(a.file), { headers: { "content-type": a.type, "cache-control": "public, max-age=86400" } });
    },
    { params: t.Object({ file: t.String() }), detail: { hide: true } },
  );
