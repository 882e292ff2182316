// Builds the control API from a DaemonContext: security first, one error mapping, then one plugin per feature (no listener here).
import { Elysia } from "elysia";
import type { DaemonContext } from "../daemon/component.ts";
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
import { requestsModule } from "./modules/requests/index.ts";
import { authModule } from "./modules/auth/index.ts";

export interface AppOptions {
  /** The API token; default: the token file from `[api] token_file`, created if missing. */
  token?: () => string;
  /** Skip the lazily loaded Swagger UI (benchmarks). */
  docs?: boolean;
  hub?: WsHub;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyElysia = Elysia<any, any, any, any, any, any, any>;

/** Feature plugins other parts of the daemon add to the API (the dashboard, sign-in); each gets the same deps. */
export const EXTRA_MODULES: ((deps: ApiDeps) => AnyElysia)[] = [authModule, dashboardModule, requestsModule];

export function createApp(ctx: DaemonContext, opts: AppOptions = {}) {
  let made: string | undefined;
  const token = opts.token ?? (() => (made ??= ensureApiToken(ctx.config.current())));
  const deps: ApiDeps = { ctx, token };
  const hub = opts.hub ?? new WsHub(ctx);
  // Typed loosely on purpose: the extra modules are added at run time. The security layer reads the declaration of the
  // route a request matched from this app's route list (every module's routes, the lazily loaded docs included).
  let app: AnyElysia;
  app = new Elysia({ name: "control-api" })
    .onError({ as: "global" }, ({ code, error, request, set }) => {
      const e = toHttpError(code, error, request);
      return e.toResponse(set.headers as Record<string, string>);
    })
    .use(security(deps, () => app.routes))
    .use(healthModule(deps))
    .use(statusModule(deps))
    .use(upstreamsModule(deps))
    .use(modelsModule(deps))
    .use(metricsModule(deps))
    .use(tunnelModule(deps))
    .use(configModule(deps))
    .use(versionModule())
    .use(eventsModule(deps))
    .use(wsModule(deps, hub));
  for (const m of EXTRA_MODULES) app = app.use(m(deps));
  if (opts.docs !== false) app = app.use(docsModule());
  return app;
}

export type ApiApp = AnyElysia;
