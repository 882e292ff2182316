// The API's security layer as one Elysia plugin: Host allowlist, Origin/CORS, body size, bearer token — before any route runs.
import { Elysia } from "elysia";
import { HttpError } from "../../core/http-error.ts";
import { urlPath } from "../../core/url-path.ts";
import type { ApiDeps } from "../deps.ts";
import { authenticate } from "./auth.ts";
import { checkContentLength, parseBody } from "./body.ts";
import { checkOrigin } from "./cors.ts";
import { checkHost } from "./host.ts";
import { needsAuth, policyFor } from "./policy.ts";
import { sessionsFor } from "./sessions.ts";

export function security(deps: ApiDeps) {
  return new Elysia({ name: "security" })
    .onRequest(({ request, set }) => {
      const policy = policyFor(deps.ctx.config.current());
      const host = checkHost(request, policy);
      const preflight = checkOrigin(request, host, policy, set.headers as Record<string, string>);
      if (preflight) return preflight;
      checkContentLength(request, policy.bodyLimit);
      if (needsAuth(request.method, urlPath(request.url))) {
        const r = authenticate(request, { token: deps.token(), sessions: sessionsFor(deps.ctx) });
        if (!r.ok) throw new HttpError(r.code ?? "unauthorized", r.reason);
      }
    })
    .onParse({ as: "global" }, ({ request, contentType }) =>
      parseBody(request, contentType ?? "", policyFor(deps.ctx.config.current()).bodyLimit).then((b) => b ?? null),
    );
}
