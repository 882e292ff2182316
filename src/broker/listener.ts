// The Ollama-compatible HTTP listener ([proxy] listen): Host and Origin checks like Ollama's, then the broker.
import type { Server } from "bun";
import type { Config } from "../config/schema.ts";
import { bindHost, isLoopbackHost, splitListen } from "../config/listen.ts";
import { hostHeaderAllowed, hostSet } from "../net/host.ts";
import { logger } from "../core/log.ts";
import { urlPath } from "../core/url-path.ts";
import type { Broker } from "./broker.ts";
import { brokerError, brokerRefusal } from "./proxy-handler.ts";
import { listenError } from "../core/listen-error.ts";
import { closing, requestPath, requestProblem } from "../core/request-checks.ts";
import { ListenerSlot } from "../core/listener-slot.ts";
import { resolveBy } from "../config/resolve.ts";
import { CONFIG_SCHEMA } from "../config/config-check.generated.ts";
import type { Prepared } from "../core/component.ts";
import { EXPOSED_HEADERS } from "../core/exposed-headers.ts";

const log = logger("broker");

/**
 * Ollama's default OLLAMA_ORIGINS: local pages and desktop app schemes. An app scheme's origin is one token: two Origin
 * lines reach us joined by ", " (Bun), so "app://x, http://evil.example" must not pass as one app:// origin and be
 * echoed back as the page's grant (Ollama's CORS reads the first line only; a browser sends one).
 */
const DEFAULT_ORIGIN = /^(https?:\/\/(localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(:\d+)?|(app|file|tauri|vscode-webview|vscode-file):\/\/[^\s,]*)$/i;

export interface AccessRules {
  /** Any Host is accepted when the listener is not on loopback (like Ollama). */
  anyHost: boolean;
  hosts: Set<string>;
  origins: Set<string>;
}

export function accessRules(p: Config["proxy"]): AccessRules {
  const { hostname } = splitListen(p.listen);
  return {
    anyHost: !isLoopbackHost(hostname),
    hosts: hostSet(p.allowed_hosts),
    origins: new Set(p.allowed_origins.map((o) => o.replace(/\/+$/, "").toLowerCase())),
  };
}

/** The caller address given for every request on a loopback-only socket. */
const LOOPBACK_PEER = "127.0.0.1";

/** DNS-rebinding guard: the names a loopback listener answers to (the one rule, src/core/host.ts); no Host at all is no browser. */
export function hostAllowed(rules: AccessRules, hostHeader: string | null): boolean {
  if (rules.anyHost || !hostHeader) return true;
  return hostHeaderAllowed(hostHeader, rules.hosts);
}

export function originAllowed(rules: AccessRules, origin: string): boolean {
  return DEFAULT_ORIGIN.test(origin) || rules.origins.has(origin.toLowerCase()) || rules.origins.has("*");
}

/** A request the broker failed by a bug: logged with the details, answered with a 500 `internal` in the caller's dialect. */
function internalError(req: Request | null, e: unknown): Response {
  log.error("request failed inside the broker", { error: e });
  return brokerError(req ? urlPath(req.url) : "/", "internal", "internal error in the broker; its log has the details");
}

/** The answer to a browser's request, with its CORS headers (apart from route(): its closure would cost every request a scope). */
function withCors(res: Promise<Response> | Response, origin: string): Promise<Response> {
  return Promise.resolve(res).then((r) => {
    r.headers.set("access-control-allow-origin", origin);
    // The page reads the broker's error code and Retry-After as it reads the relay's (only the safelisted ones otherwise).
    r.headers.set("access-control-expose-headers", EXPOSED_HEADERS);
    r.headers.append("vary", "Origin");
    return r;
  });
}

/** Bun's idleTimeout is whole seconds, at most 255. */
const idleSecondsOf = (p: Config["proxy"]): number => Math.min(255, Math.ceil(resolveBy(CONFIG_SCHEMA.properties.proxy, p).idle_timeout / 1000));

export class ProxyListener {
  private rules: AccessRules;
  private readonly slot = new ListenerSlot<Server<undefined>>({
    what: "the Ollama-compatible endpoint",
    open: (listen) => this.open(listen),
    // A moved or refused socket stops accepting; its in-flight requests (streaming generations) finish.
    close: async (s) => void s.stop(false),
    port: (s) => s.port,
  });

  /** [proxy] idle_timeout in seconds, for a socket beyond loopback (read when one binds). */
  private idleSeconds: number;

  constructor(
    private readonly broker: Broker,
    config: Config,
  ) {
    this.rules = accessRules(config.proxy);
    this.idleSeconds = idleSecondsOf(config.proxy);
  }

  get url(): string | null {
    const server = this.slot.current;
    if (!server) return null;
    const h = server.hostname ?? "127.0.0.1";
    return `http://${h.includes(":") ? `[${h}]` : h}:${server.port}`;
  }

  /** Binds [proxy] listen (at start); throws a ListenError, leaving nothing bound. */
  start(p: Config["proxy"]): void {
    this.idleSeconds = idleSecondsOf(p);
    this.slot.start(p.listen);
    this.rules = accessRules(p);
    log.info("Ollama-compatible endpoint listening", { url: this.url! });
  }

  /** A reload's first phase: binds a new [proxy] listen beside the running socket; throws a ListenError, which refuses the reload. */
  async prepare(p: Config["proxy"]): Promise<Prepared | undefined> {
    if (!p.enabled || (this.slot.current && p.listen === this.slot.listen)) return undefined;
    this.idleSeconds = idleSecondsOf(p);
    await this.slot.stage(p.listen);
    return { release: () => this.slot.release() };
  }

  /** Follows [proxy] changes: moves to the address prepare() bound (binding it now if it did not), stops when disabled. */
  async apply(p: Config["proxy"]): Promise<void> {
    if (p.enabled && !(this.slot.current && p.listen === this.slot.listen)) {
      this.idleSeconds = idleSecondsOf(p);
      await this.slot.commit(p.listen);
      log.info("Ollama-compatible endpoint listening", { url: this.url! });
    }
    this.rules = accessRules(p);
    if (!p.enabled) await this.stop(false);
  }

  /** `force` cuts in-flight requests (daemon shutdown); otherwise they finish. */
  async stop(force = true): Promise<void> {
    const s = this.slot.current;
    await this.slot.stop();
    if (force && s) await s.stop(true);
  }

  private open(listen: string): Server<undefined> {
    const { hostname, port } = splitListen(listen);
    // A socket bound to loopback only hears this machine: its callers are local without asking Bun for each one's
    // address (2.5 % of a request's CPU). Decided per socket, so a reload that moves the listener never mixes the two.
    const onlyLocal = isLoopbackHost(hostname);
    // Beyond loopback anyone on the network can open connections: one that no admitted request uses (idle, or its head
    // trickled in: slowloris) is closed after [proxy] idle_timeout; an admitted request lifts it for its connection,
    // since generations can be silent for minutes (model loading). On loopback nothing is cut, at no cost per request.
    const idle = onlyLocal ? 0 : this.idleSeconds;
    let server: Server<undefined> | undefined;
    const admit = idle ? (req: Request) => server?.timeout(req, 0) : undefined;
    try {
      return (server = Bun.serve({
        hostname: bindHost(hostname),
        port,
        idleTimeout: idle,
        // Bun's development mode is on by default (the compiled binary too): serve-fallback.ts says what it would show.
        development: false,
        // Uploads (blobs) stream through; Bun's limit would otherwise cap them.
        maxRequestBodySize: Number.MAX_SAFE_INTEGER,
        // Without Host (HTTP/1.0) the URL is a bare path: answered here, before anything parses it.
        fetch: (req, server) => {
          const problem = requestProblem(req);
          if (problem) return closing(brokerRefusal(requestPath(req), "bad_request", problem));
          // A bug fails with a 500 in the caller's dialect (Bun's error hook below never sees which path was called).
          try {
            const res = this.route(req, onlyLocal ? LOOPBACK_PEER : (server.requestIP(req)?.address ?? null), admit);
            return res instanceof Promise ? res.catch((e: unknown) => internalError(req, e)) : res;
          } catch (e) {
            return internalError(req, e);
          }
        },
        error: (e) => internalError(null, e),
      }));
    } catch (e) {
      throw listenError("the broker", "proxy.listen", listen, e);
    }
  }

  private route(req: Request, peer: string | null, admit?: (req: Request) => void): Promise<Response> | Response {
    if (!hostAllowed(this.rules, req.headers.get("host"))) return brokerRefusal(urlPath(req.url), "host_not_allowed", "this Host header is not allowed (DNS-rebinding guard); add it to [proxy] allowed_hosts");
    const origin = req.headers.get("origin");
    if (origin !== null && !originAllowed(this.rules, origin)) return brokerRefusal(urlPath(req.url), "origin_not_allowed", "this Origin is not allowed; add it to [proxy] allowed_origins");
    if (req.method === "OPTIONS" && origin !== null) {
      return new Response(null, {
        status: 204,
        headers: {
          "access-control-allow-origin": origin,
          "access-control-allow-methods": "GET, POST, PUT, DELETE, HEAD, OPTIONS",
          "access-control-allow-headers": req.headers.get("access-control-request-headers") ?? "authorization, content-type",
          "access-control-max-age": "600",
          // Private Network Access: a page of an allowed public origin ([proxy] allowed_origins) asks before it calls 127.0.0.1.
          ...(req.headers.get("access-control-request-private-network") === "true" ? { "access-control-allow-private-network": "true" } : {}),
          vary: "Origin",
        },
      });
    }
    // Without an Origin (every non-browser client) the broker's promise is handed to Bun as it is: no extra await.
    if (origin === null) return this.broker.handle(req, "local", peer, admit);
    return withCors(this.broker.handle(req, "local", peer, admit), origin);
  }
}
