// GET /api/v1/tunnel and POST /api/v1/tunnel/start|stop|restart.
import { Elysia } from "elysia";
import type { ApiDeps } from "../../deps.ts";
import { TunnelStatus, errors } from "../../schemas.ts";
import { access } from "../../security/access.ts";
import { getTunnel, tunnelAction, type TunnelAction } from "./service.ts";

const tags = ["tunnel"];
const ACTIONS: Record<TunnelAction, string> = {
  start: "Connect to the relay",
  stop: "Disconnect from the relay and stay disconnected",
  restart: "Reconnect to the relay now",
};

/** One POST per action, written out so the app's type (and the typed client) knows each path. */
const actionRoute = (deps: ApiDeps, action: TunnelAction) =>
  [
    () => tunnelAction(deps.ctx, action),
    {
      response: { 200: TunnelStatus, ...errors(401, 409) },
      detail: { tags, summary: ACTIONS[action], description: "409 tunnel_disabled when [tunnel] enabled is false." },
    },
  ] as const;

export const tunnelModule = (deps: ApiDeps) =>
  new Elysia({ prefix: "/api/v1/tunnel" }).use(access)
    .get("", () => getTunnel(deps.ctx), {
      response: { 200: TunnelStatus },
      access: "public", detail: { tags, summary: "Tunnel state, relay, since, next retry" },
    })
    .post("/start", ...actionRoute(deps, "start"))
    .post("/stop", ...actionRoute(deps, "stop"))
    .post("/restart", ...actionRoute(deps, "restart"));
