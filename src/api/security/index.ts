// The API's security layer as one Elysia plugin: Host allowlist, Origin/CORS and body size before routing; then, for the route the
// request matched, the credentials that route declares (token, dashboard session, or none) before its body is read.
import { Elysia } from "elysia";
import { HttpError } from "../../core/http-error.ts";
import { fromOtherUser, type PeerSource } from "../../net/peer-uid.ts";
import { requestProblem } from "../../core/request-checks.ts";
import type { ApiDeps } from "../deps.ts";
import { authenticate } from "./auth.ts";
import { checkContentLength, parseBody, takesText } from "./body.ts";
import { checkOrigin } from "./cors.ts";
import { checkHost } from "./host.ts";
import { policyFor } from "./policy.ts";
import { RouteAccess, type RouteLike } from "./route-access.ts";
import { sessionsFor } from "./sessions.ts";

/** `routes`: the whole app's route list (Elysia's `app.routes`), where each route carries its own declaration. */
export function security(deps: ApiDeps, routes: () => readonly RouteLike[]) {
  const access = new RouteAccess(routes);
  const passed = new WeakSet<Request>();

  /**
   * Runs after routing, so every spelling the router accepts (a trailing slash, a WebSocket upgrade of /ws/) meets the rule of the
   * route it reached; a request that matches no route never gets here and is answered 404 with nothing from any route.
   */
  const requireAccess = (request: Request, route: string | undefined, server: unknown) => {
    if (passed.has(request)) return;
    const need = access.of(request.method, route);
    if (need !== "public") {
      const sessions = need === "token_or_session" ? sessionsFor(deps.ctx) : undefined;
      const r = authenticate(request, { token: deps.token(), sessions, fromOtherUser: () => fromOtherUser(server as PeerSource | null, request) });
      if (!r.ok) throw new HttpError(r.code ?? "unauthorized", r.reason);
    }
    passed.add(request);
  };

  return (
    new Elysia({ name: "security" })
      .onRequest(({ request, set }) => {
        // Before anything reads the Host or the URL: a request no server should act on (src/core/request-checks.ts).
        const problem = requestProblem(request);
        if (problem) {
          set.headers.connection = "close";
          throw new HttpError("bad_request", problem);
        }
        const policy = policyFor(deps.ctx.config.current());
        const host = checkHost(request, policy);
        const preflight = checkOrigin(request, host, policy, set.headers as Record<string, string>);
        if (preflight) return preflight;
        checkContentLength(request, policy.bodyLimit);
      })
      // Parsing comes before transform in Elysia's lifecycle: the check runs here first so a caller without credentials
      // never gets its body read or validated; transform covers the routes without a body.
      .onParse({ as: "global" }, ({ request, route, contentType, server }) => {
        requireAccess(request, route, server);
        // Text (TOML) only where the route's body schema takes a string; a JSON-only route refuses it with 415 saying so.
        const textOk = () => takesText(routes().find((r) => r.method === request.method && r.path === route)?.hooks?.body);
        return parseBody(request, contentType ?? "", policyFor(deps.ctx.config.current()).bodyLimit, textOk).then((b) => b ?? null);
      })
      .onTransform({ as: "global" }, ({ request, route, server }) => requireAccess(request, route, server))
  );
}
