// The Ollama-compatible HTTP listener ([proxy] listen): Host and Origin checks like Ollama's, then the broker.
import type { Server } from "bun";
import type { Config } from "../config/schema.ts";
import { isLoopbackHost, splitListen } from "../config/listen.ts";
import { hostHeaderAllowed, hostSet } from "../core/host.ts";
import { logger } from "../core/log.ts";
import { urlPath } from "../core/url-path.ts";
import type { Broker } from "./broker.ts";
import { brokerError } from "./proxy-handler.ts";

const log = logger("broker");

/** Ollama's default OLLAMA_ORIGINS: local pages and desktop app schemes. */
const DEFAULT_ORIGIN = /^(https?:\/\/(localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(:\d+)?|(app|file|tauri|vscode-webview|vscode-file):\/\/.*)$/i;

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

/** DNS-rebinding guard: the names a loopback listener answers to (the one rule, src/core/host.ts); no Host at all is no browser. */
export function hostAllowed(rules: AccessRules, hostHeader: string | null): boolean {
  if (rules.anyHost || !hostHeader) return true;
  return hostHeaderAllowed(hostHeader, rules.hosts);
}

export function originAllowed(rules: AccessRules, origin: string): boolean {
  return DEFAULT_ORIGIN.test(origin) || rules.origins.has(origin.toLowerCase()) || rules.origins.has("*");
}

export class ProxyListener {
  private server: Server<undefined> | null = null;
  private rules: AccessRules;
  private listenAddr = "";

  constructor(
    private readonly broker: Broker,
    config: Config,
  ) {
    this.rules = accessRules(config.proxy);
  }

  get url(): string | null {
    if (!this.server) return null;
    const h = this.server.hostname ?? "127.0.0.1";
    return `http://${h.includes(":") ? `[${h}]` : h}:${this.server.port}`;
  }

  /** Binds [proxy] listen; throws (keeping any running listener) when the address cannot be bound. */
  start(p: Config["proxy"]): void {
    const { hostname, port } = splitListen(p.listen);
    let server: Server<undefined>;
    try {
      server = Bun.serve({
        hostname,
        port,
        // Generations can be silent for minutes (model loading): never cut a connection for idleness.
        idleTimeout: 0,
        // Uploads (blobs) stream through; Bun's limit would otherwise cap them.
        maxRequestBodySize: Number.MAX_SAFE_INTEGER,
        fetch: (req) => this.route(req),
        error: (e) => {
          log.error("request failed inside the broker", { error: e });
          return Response.json({ error: "internal error in the broker" }, { status: 500 });
        },
      });
    } catch (e) {
      throw new Error(`the broker cannot listen on ${p.listen} ([proxy] listen): ${(e as Error).message}`);
    }
    const old = this.server;
    this.server = server;
    this.rules = accessRules(p);
    this.listenAddr = p.listen;
    log.info("Ollama-compatible endpoint listening", { url: this.url! });
    // A rebind: the old socket stops accepting; its in-flight requests finish.
    if (old) void old.stop(false);
  }

  /** Follows [proxy] changes: rebinds when the address changed, stops when disabled. */
  async apply(p: Config["proxy"]): Promise<void> {
    if (!p.enabled) {
      this.rules = accessRules(p);
      return this.stop(false);
    }
    if (this.server && p.listen === this.listenAddr) {
      this.rules = accessRules(p);
      return;
    }
    this.start(p);
  }

  async stop(force = true): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await (force ? s.stop(true) : Promise.resolve(void s.stop(false)));
  }

  private route(req: Request): Promise<Response> | Response {
    if (!hostAllowed(this.rules, req.headers.get("host"))) return brokerError(urlPath(req.url), "host_not_allowed", "this Host header is not allowed (DNS-rebinding guard); add it to [proxy] allowed_hosts");
    const origin = req.headers.get("origin");
    if (origin !== null && !originAllowed(this.rules, origin)) return brokerError(urlPath(req.url), "origin_not_allowed", "this Origin is not allowed; add it to [proxy] allowed_origins");
    if (req.method === "OPTIONS" && origin !== null) {
      return new Response(null, {
        status: 204,
        headers: {
          "access-control-allow-origin": origin,
          "access-control-allow-methods": "GET, POST, PUT, DELETE, HEAD, OPTIONS",
          "access-control-allow-headers": req.headers.get("access-control-request-headers") ?? "authorization, content-type",
          "access-control-max-age": "600",
          vary: "Origin",
        },
      });
    }
    // Without an Origin (every non-browser client) the broker's promise is handed to Bun as it is: no extra await.
    if (origin === null) return this.broker.handle(req, "local");
    return this.broker.handle(req, "local").then((res) => {
      res.headers.set("access-control-allow-origin", origin);
      res.headers.append("vary", "Origin");
      return res;
    });
  }
}
