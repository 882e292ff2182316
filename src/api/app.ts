// Builds the control API from a DaemonContext: security first, one error mapping, then one plugin per feature (no listener here).
import { Elysia } from "elysia";
import type { DaemonContext } from "../core/component.ts";
import { ensureApiToken } from "./token.ts";
import type { ApiDeps } from "./deps.ts";
import { toHttpError } from "./errors.ts";
import { security } from "./security/index.ts";
import { healthModule } from "./modules/health/index.ts";
import { statusModule } from "./modules/status/index.ts";
import { upstreamsModule } from "./modules/upstreams/index.ts";
import { modelsModule } from "./modules/models/index.ts";
import { metricsModule } from "./modules/metrics/index.ts";
import { tunnelModule } from "./modules/tunnel/index.ts";
import { configModule } from "./modules/config/index.ts";
import { versionModule } from "./modules/version/index.ts";
import { eventsModule } from "./modules/events/index.ts";
import { wsModule } from "./modules/ws/index.ts";
import { docsModule } from "./modules/docs/index.ts";
import { WsHub } from "./modules/ws/hub.ts";
import { dashboardModule } from "./modules/dashboard/index.ts";
import { dashboardAccessModule } from "./modules/dashboard/access.ts";
import { requestsModule } from "./modules/requests/index.ts";
import { authModule } from "./modules/auth/index.ts";
import { keysModule } from "./modules/keys/index.ts";
import { usageModule } from "./modules/usage/index.ts";
import type { RouteLike } from "./security/route-access.ts";

export interface AppOptions {
  /** The API token; default: the token file from `[api] token_file`, created if missing. */
  token?: () => string;
  /** Skip the lazily loaded Swagger UI (benchmarks). */
  docs?: boolean;
  hub?: WsHub;
}

/**
 * The control API, typed from end to end: the one client (src/client/api-client.ts) takes its route and response types
 * from `ApiApp`. The security layer reads the declaration of the route a request matched from this app's route list
 * (every module's routes, the lazily loaded docs included).
 */
export function createApp(ctx: DaemonContext, opts: AppOptions = {}) {
  let made: string | undefined;
  const token = opts.token ?? (() => (made ??= ensureApiToken(ctx.config.current())));
  const deps: ApiDeps = { ctx, token };
  const hub = opts.hub ?? new WsHub(ctx);
  let routes: () => readonly RouteLike[] = () => [];
  const app = new Elysia({ name: "control-api" })
    .onError({ as: "global" }, ({ code, error, request, set }) => {
      const e = toHttpError(code, error, request);
      return e.toResponse(set.headers as Record<string, string>);
    })
    .use(security(deps, () => routes()))
    .use(healthModule(deps))
    .use(statusModule(deps))
    .use(upstreamsModule(deps))
    .use(modelsModule(deps))
    .use(metricsModule(deps))
    .use(tunnelModule(deps))
    .use(configModule(deps))
    .use(versionModule())
    .use(eventsModule(deps))
    .use(wsModule(deps, hub))
    .use(authModule(deps))
    .use(dashboardModule(deps))
    .use(dashboardAccessModule(deps))
    .use(requestsModule(deps))
    .use(keysModule(deps))
    .use(usageModule(deps))
    .use(opts.docs !== false ? docsModule(deps) : new Elysia({ name: "no-docs" }));
  routes = () => app.routes;
  return app;
}

/** The app's static type: routes, parameters and responses, for the typed client. */
export type ApiApp = ReturnType<typeof createApp>;
