// The control API's listening socket: a bare Bun.serve that loads the Elysia app (and all its modules import) when the
// first request arrives, so a daemon nobody asks never loads it (docs/performance.md: idle memory).
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import { HttpError } from "../core/http-error.ts";
import { logger } from "../core/log.ts";
import { lastResort } from "../core/serve-fallback.ts";
import { RepeatLimit } from "../core/repeat-limit.ts";

const log = logger("api");

/** What the front needs of the app: Elysia's `fetch`, and its `server`, which the front sets (WebSocket upgrades use it). */
export interface FrontApp {
  fetch(req: Request): Response | Promise<Response>;
  server: unknown;
  /** Elysia's lazily loaded plugins (Swagger): once they are in, the app is compiled again with their routes. */
  readonly modules?: Promise<unknown>;
  compile?(): unknown;
}

export interface ApiFront {
  readonly server: Server<unknown>;
  /** The app once a request made it (null before). */
  readonly app: FrontApp | null;
  stop(closeActiveConnections: boolean): Promise<void>;
}

interface Dispatch {
  open?(ws: ServerWebSocket<Dispatch>): void;
  message?(ws: ServerWebSocket<Dispatch>, m: string | Buffer): void;
  drain?(ws: ServerWebSocket<Dispatch>): void;
  close?(ws: ServerWebSocket<Dispatch>, code: number, reason: string): void;
  ping?(ws: ServerWebSocket<Dispatch>, data: Buffer): void;
  pong?(ws: ServerWebSocket<Dispatch>, data: Buffer): void;
}

// Elysia's WebSocket handlers dispatch through each socket's data, which its upgrade sets: the same, without Elysia.
const websocket: WebSocketHandler<Dispatch> = {
  open: (ws) => ws.data.open?.(ws),
  message: (ws, m) => ws.data.message?.(ws, m),
  drain: (ws) => ws.data.drain?.(ws),
  close: (ws, code, reason) => ws.data.close?.(ws, code, reason),
  ping: (ws, d) => ws.data.ping?.(ws, d),
  pong: (ws, d) => ws.data.pong?.(ws, d),
};

export interface FrontOptions {
  hostname: string;
  port: number;
  maxRequestBodySize: number;
}

/**
 * What a caller gets while the app's code cannot be loaded (at the file limit, EMFILE, Bun cannot open the modules):
 * a 503 to retry, not a 500 that reads as a bug. The cause (Bun's words, our paths) is for the log, not the caller.
 */
export const NOT_LOADED_MESSAGE =
  "the control API could not load its code (is the daemon out of file descriptors?); retry in a moment, the daemon log has the cause";

/**
 * Binds now (a taken port throws here, as Elysia's listen did); `load` runs on the first request, and again on the
 * next one after a failed load: a rejected load is never kept, so the API comes back once descriptors are free.
 */
export function serveApiFront(load: () => Promise<FrontApp>, o: FrontOptions): ApiFront {
  let app: FrontApp | null = null;
  let loading: Promise<FrontApp> | null = null;
  /** Until the lazily loaded plugins are in: a route of theirs (/swagger) would be a 404 for the first caller. */
  let plugins: Promise<unknown> | null = null;
  // One line per cause per 10 s: at the file limit every waiting request fails at once, and again on each retry.
  const loadFailures = new RepeatLimit();
  const notLoaded = (e: unknown): Response => {
    const line = loadFailures.note(e instanceof Error ? e.message : String(e));
    if (line.write) log.error("the control API could not load its code; requests are answered 503 until it does", { error: e, repeated: line.repeated || undefined });
    return new HttpError("unavailable", NOT_LOADED_MESSAGE).after(1).toResponse();
  };
  const serve = async (a: FrontApp, req: Request): Promise<Response> => {
    const res = await a.fetch(req);
    // Not found while plugins are still loading: perhaps theirs. A body-less request is asked again once they are in
    // (a WebSocket upgrade answers nothing).
    if (!res || res.status !== 404 || !plugins || (req.method !== "GET" && req.method !== "HEAD")) return res;
    await plugins;
    return a.fetch(req);
  };
  const server: Server<Dispatch> = Bun.serve<Dispatch>({
    hostname: o.hostname,
    port: o.port,
    // Elysia's default reusePort would let a second daemon (or anything of this user) share the port silently.
    reusePort: false,
    // Bun's development mode is on by default (the compiled binary too): serve-fallback.ts says what it would show.
    development: false,
    maxRequestBodySize: o.maxRequestBodySize,
    // As Elysia's listen sets it: a /ws client or a long poll may sit quiet, a stuck one may not hold a socket forever.
    idleTimeout: 30,
    websocket,
    // What Elysia's onError did not answer (the app failed to load, say): one line, and the API's own error shape.
    error: lastResort(log, "api", () => new HttpError("internal", "internal error; the daemon log has the details").toResponse()),
    fetch(req) {
      if (app) return plugins ? serve(app, req) : app.fetch(req);
      loading ??= load().then(
        (a) => {
          // Only what Elysia's upgrade calls: with a real Server here, Elysia's compile() would reload it with its own handlers.
          a.server = {
            upgrade: (r: Request, opts: unknown) => server.upgrade(r, opts as never),
            port: server.port,
            hostname: server.hostname,
            // The dashboard's code trade asks who is on the other end (security/same-user.ts).
            requestIP: (r: Request) => server.requestIP(r),
          };
          // What Elysia's listen() does: routes of plugins loaded later (the docs) join once they are in. The front
          // reads app.fetch at every request, so it serves the recompiled handler.
          if (a.modules) plugins = a.modules.then(() => a.compile?.()).catch(() => {}).finally(() => (plugins = null));
          return (app = a);
        },
        (e) => {
          loading = null; // the next request loads again: a rejected import kept here would fail every request until restart
          throw e;
        },
      );
      // Only the load's failure is a 503: the app failing this request is the error hook's (a 500).
      return loading.then((a) => serve(a, req), notLoaded);
    },
  });
  return {
    server: server as Server<unknown>,
    get app() {
      return app;
    },
    stop: (closeActive) => server.stop(closeActive),
  };
}
