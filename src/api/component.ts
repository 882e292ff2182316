// The control API component: makes the token, listens on `[api] listen`, rebinds only when that address changes.
import type { Server } from "bun";
import type { ComponentFactory } from "../daemon/component.ts";
import { logger } from "../core/log.ts";
import { isLoopbackHost, splitListen } from "../config/listen.ts";
import { createApp, type ApiApp } from "./app.ts";
import { WsHub } from "./modules/ws/hub.ts";
import { ensureApiToken } from "./token.ts";

const log = logger("api");

// Bun's own cap; `[api] body_limit` (which a reload can change) is enforced per request inside the app.
const SERVER_BODY_CAP = 64 * 1024 * 1024;

export const createApiComponent: ComponentFactory = (ctx) => {
  let app: ApiApp | null = null;
  let token = "";
  const hub = new WsHub(ctx);
  // Re-read on every apply: deleting the file and reloading (SIGHUP) rotates the token; a moved token_file is followed.
  const refreshToken = () => {
    token = ensureApiToken(ctx.config.current());
  };

  const listen = () => {
    const listenAt = ctx.config.current().api.listen;
    const { hostname, port } = splitListen(listenAt);
    app = createApp(ctx, { token: () => token, hub }).listen({ hostname, port, maxRequestBodySize: SERVER_BODY_CAP });
    const server = app.server as Server<unknown>;
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    log.info("control API listening", { url: `http://${host}:${server.port}` });
    if (!isLoopbackHost(hostname))
      log.warn("the control API is reachable from other machines; status and metrics need no token", { listen: listenAt });
  };

  const close = async () => {
    hub.closeAll();
    await app?.stop(true);
    app = null;
  };

  return {
    name: "api",
    async start() {
      refreshToken();
      listen();
    },
    async stop() {
      await close();
    },
    async apply(next, prev) {
      refreshToken();
      if (next.api.listen === prev.api.listen) return; // allowlists and body limit are read per request
      log.info("moving the control API", { from: prev.api.listen, to: next.api.listen });
      await close();
      listen();
    },
  };
};
