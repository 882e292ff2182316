// The control API component: makes the token, listens on `[api] listen`, moves only when that address changes (new socket bound before the old one closes).
// The app itself (Elysia and every module) is loaded by the first request (lazy-front.ts).
import type { ComponentFactory } from "../core/component.ts";
import { logger } from "../core/log.ts";
import { listenError } from "../core/listen-error.ts";
import { bindHost, isLoopbackHost, splitListen } from "../config/listen.ts";
import { baseUrlOf } from "../core/listen-url.ts";
import { ListenerSlot } from "../core/listener-slot.ts";
import type { WsHub } from "./modules/ws/hub.ts";
import { serveApiFront, type ApiFront, type FrontApp } from "./lazy-front.ts";
import { ensureApiToken, tokenFile } from "./token.ts";
import { removeListenRecord, writeListenRecord } from "./listen-record.ts";

const log = logger("api");

// No cap of Bun's own: `[api] body_limit` (which a reload can change) is enforced per request inside the app, which
// answers 413 `payload_too_large`; Bun's cap answered a bare 413 with no code for a Content-Length above it (and refused a
// body_limit set higher), as the broker and the relay leave it off too.
const SERVER_BODY_CAP = Number.MAX_SAFE_INTEGER;

export const createApiComponent: ComponentFactory = (ctx) => {
  let token = "";
  // One hub for every socket the slot opens (a moved listener keeps serving the same app), made with the app.
  let hub: WsHub | null = null;
  let app: Promise<FrontApp> | null = null;
  const loadApp = () =>
    (app ??= (async () => {
      const [{ createApp }, { WsHub }] = await Promise.all([import("./app.ts"), import("./modules/ws/hub.ts")]);
      hub = new WsHub(ctx);
      return createApp(ctx, { token: () => token, hub }) as unknown as FrontApp;
    })().catch((e) => {
      app = null;
      throw e;
    }));
  // Re-read on every apply: deleting the file and reloading (SIGHUP) rotates the token; a moved token_file is followed.
  // Returns whether the token changed.
  const refreshToken = (): boolean => {
    const before = token;
    token = ensureApiToken(ctx.config.current());
    return before !== "" && token !== before;
  };
  // What the old token bought ends with it: the dashboard sessions (and unspent codes) it minted and the live-event
  // sockets opened with it or with such a session. Nothing to end while the app was never loaded.
  const endOldAccess = async () => {
    if (!app) return;
    const { sessionsFor } = await import("./security/sessions.ts");
    sessionsFor(ctx).revokeAll();
    hub?.closeAll(1008, "the API token was rotated; reconnect with the new token");
    log.info("the API token changed: dashboard sessions and live-event connections made with the old one were ended");
  };

  const slot = new ListenerSlot<ApiFront>({
    what: "the control API",
    open(listenAt) {
      const { hostname, port } = splitListen(listenAt);
      try {
        return serveApiFront(loadApp, { hostname: bindHost(hostname), port, maxRequestBodySize: SERVER_BODY_CAP });
      } catch (e) {
        throw listenError("the control API", "api.listen", listenAt, e);
      }
    },
    // Graceful, as the broker's: the request that moved the listener (a PUT of the config) is answered on the old
    // socket instead of being cut off; stop() below ends what is left at shutdown.
    close: async (front) => void front.stop(false),
    port: (front) => front.server.port,
  });

  const announce = () => {
    const listenAt = slot.listen;
    const { hostname } = splitListen(listenAt);
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    log.info("control API listening", { url: `http://${host}:${slot.current!.server.port}` });
    if (!isLoopbackHost(hostname))
      log.warn("the control API is reachable from other machines; status and metrics need no token", { listen: listenAt });
  };

  // Where the API really listens, for the CLI (listen-record.ts): a refused move leaves `[api] listen` in the file naming
  // an address the daemon is not at. Without the record the CLI falls back to the file: a warning, not a failure.
  let recordError = "";
  const publish = () => {
    const port = slot.current?.server?.port;
    if (port === undefined) return;
    const host = bindHost(splitListen(slot.listen).hostname);
    try {
      writeListenRecord(ctx.config.path(), { url: baseUrlOf(`${host.includes(":") ? `[${host}]` : host}:${port}`), token_file: tokenFile(ctx.config.current()) });
      recordError = "";
    } catch (e) {
      const why = (e as Error).message;
      if (why !== recordError) log.warn("cannot write where the control API listens; the CLI reads [api] listen from the config file instead", { error: why });
      recordError = why;
    }
  };

  return {
    name: "api",
    async start() {
      refreshToken();
      ctx.services.apiUrl = () => {
        const port = slot.current?.server?.port;
        const { hostname } = splitListen(slot.listen);
        return port === undefined ? null : baseUrlOf(`${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`);
      };
      slot.start(ctx.config.current().api.listen);
      // Before the "listening" line: whoever waits for it finds the record written.
      publish();
      announce();
    },
    async stop() {
      removeListenRecord(ctx.config.path());
      hub?.closeAll();
      const front = slot.current;
      await slot.stop();
      if (front) await front.stop(true);
    },
    async prepare(next, prev) {
      if (next.api.listen === prev.api.listen && slot.current) return;
      // Bound now, beside the running listener: a taken port refuses the reload before anything changed.
      await slot.stage(next.api.listen);
      return { release: () => slot.release() };
    },
    async apply(next, prev) {
      if (refreshToken()) await endOldAccess();
      if (next.api.listen === prev.api.listen && slot.current) {
        if (next.api.token_file !== prev.api.token_file) publish();
        return; // allowlists and body limit are read per request
      }
      log.info("moving the control API", { from: prev.api.listen, to: next.api.listen });
      await slot.commit(next.api.listen);
      // Live-event clients were connected to the old address: told where it went (a close reason fits 123 bytes), not
      // that the daemon is stopping (closeAll's default), which it is not.
      const port = slot.current?.server?.port;
      const host = splitListen(next.api.listen).hostname;
      hub?.closeAll(1001, `the control API moved to ${port === undefined ? next.api.listen : baseUrlOf(`${host.includes(":") ? `[${host}]` : host}:${port}`)}; reconnect there`);
      // Before the "listening" line: whoever waits for it finds the record written.
      publish();
      announce();
    },
  };
};
