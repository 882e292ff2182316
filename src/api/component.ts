// Placeholder control API component: only /healthz until the API module lands (issue 4 replaces this file).
import { Elysia } from "elysia";
import type { ComponentFactory } from "../daemon/component.ts";
import { logger } from "../core/log.ts";
import { splitListen } from "../config/listen.ts";

const log = logger("api");

export const createApiComponent: ComponentFactory = (ctx) => {
  let app: Elysia | null = null;
  return {
    name: "api",
    async start() {
      const { hostname, port } = splitListen(ctx.config.current().api.listen);
      app = new Elysia().get("/healthz", () => ({ status: "ok" })).listen({ hostname, port });
      log.info("control API listening", { url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${app.server?.port}` });
    },
    async stop() {
      await app?.stop(true);
    },
  };
};
