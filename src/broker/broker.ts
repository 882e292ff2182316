// The broker service: the upstream set built from config, their health monitors and quality, and request handling.
import { resolved } from "../config/resolve.ts";
import type { Admitted, BrokerService, Caller, GatewayService, Quality, QueueStatus, UpstreamStatus } from "../core/contracts.ts";
import type { Config, Section, UpstreamConfig } from "../config/schema.ts";
import { changes } from "../config/changes.ts";
import type { EventBus } from "../core/events.ts";
import { logger, registerSecret } from "../core/log.ts";
import { urlPath, urlSearch } from "../core/url-path.ts";
import { routeOf } from "../core/model-routes.ts";
import type { Services } from "../core/component.ts";
import { Exchange } from "./exchange.ts";
import { HealthMonitor, healthSettings } from "./health-monitor.ts";
import { upstreamHeaders } from "./headers.ts";
import { anthropicModelInfo, anthropicModelList, oneModelId, wantsAnthropicList } from "./dialects/anthropic/model-list.ts";
import { convertListing, mergeOllamaModels, mergeOpenAiModels, modelIndex, type Listing } from "./model-merge.ts";
import { brokerError, errorResponse, proxy, type ProxyDeps } from "./proxy-handler.ts";
import { quality, qualityLatency } from "./quality.ts";
import { fixFor, verdict } from "../core/verdict.ts";
import { describeFetchError } from "../net/fetch-error.ts";
import { routeOrder } from "./router.ts";
import { listWithAliases } from "./aliases.ts";
import { Gate } from "./gate.ts";
import { emptyTable, nextTable, type RoutingTable, type UpstreamEntry } from "./routing-table.ts";
import { ReplayBudget } from "./replay-budget.ts";
import { watchGate } from "./prometheus.ts";
import { boundedJson } from "./bounded-body.ts";
import { ollamaNames } from "../kinds/types.ts";
import { createUpstreamClient, FetchClient } from "./upstream-client.ts";
import { Upstream } from "./upstream.ts";
import { queryKeyRefusal } from "./query-key.ts";
import { dialectOf, HttpError, type Dialect, type ErrorCode } from "../core/http-error.ts";
import { nameRequest } from "./pipeline/request-id.ts";
import type { HeaderJson } from "../net/captured-headers.ts";

/** What an Anthropic client asked of the model list: a page (`query`), or one model (`id`). */
type AnthropicAsk = { query: string; id: string | null };

const log = logger("broker");
const QUALITY_TICK_MS = 1000;
type FetchFn = typeof fetch;

/** The entries of a model list whose name (`name`, else `model`; `id` in OpenAI's) `shown` passes; all without it. */
function onlyShown<T extends Record<string, unknown>>(entries: T[], key: "name" | "id", shown: ((name: string) => boolean) | null): T[] {
  if (!shown) return entries;
  return entries.filter((e) => {
    const name = e[key] ?? (key === "name" ? e.model : undefined);
    return typeof name === "string" && shown(name);
  });
}

function newSession(): { fetch: FetchFn; session: { close(): void } | null } {
  const FS = (Bun as unknown as { FetchSession?: new () => { fetch: FetchFn; close(): void } }).FetchSession;
  if (!FS) return { fetch, session: null };
  const s = new FS();
  return { fetch: s.fetch as FetchFn, session: s };
}

/** Who calls on a loopback-only listener (every request there): one object, not one per request. */
const LOOPBACK_CALLER: Caller = Object.freeze({ source: "local", ip: "127.0.0.1" });

export class Broker implements BrokerService {
  /** This config version's routing table (routing-table.ts): replaced whole on reload, never changed in place. */
  private table: RoutingTable;
  private ticker: ReturnType<typeof setTimeout> | null = null;
  private readonly deps: ProxyDeps;
  /** max_parallel slots and the fair queue; its limits follow reloads. */
  readonly gate = new Gate<Upstream>(
    () => this.table.queue,
    undefined,
    (u) => this.table.entries.get(u.name)?.upstream.maxParallel ?? u.maxParallel,
  );
  private unwatchGate: (() => void) | null = null;
  /**
   * Per auth_secret name, the trouble last logged of it ("missing" or "unreadable"): each health check asks the store
   * again, so without this a secret not stored yet would be one warn line per check. Logged again when it changes.
   */
  private readonly secretTrouble = new Map<string, string>();
  /** [proxy] replay_buffer, shared by every request; its bound follows reloads. */
  readonly replay = new ReplayBudget(() => this.config.proxy.replay_buffer);

  constructor(
    config: Config,
    private readonly events: EventBus,
    private readonly services: Services,
  ) {
    this.table = emptyTable(config);
    this.deps = {
      events,
      table: () => this.table,
      gate: this.gate,
      replay: this.replay,
      gateway: () => this.services.gateway,
    };
  }

  // The table's parts under the names the rest of the broker reads them by.
  private get config(): Config {
    return this.table.config;
  }
  private get entries(): ReadonlyMap<string, UpstreamEntry> {
    return this.table.entries;
  }
  private get aliases() {
    return this.table.aliases;
  }

  async start(): Promise<void> {
    this.swap(this.config);
    this.unwatchGate = watchGate(this.gate);
  }

  /** Traffic marked an upstream dirty: its quality is evaluated within a second (one timer, none while idle). */
  private readonly armQuality = (): void => {
    if (this.ticker || !this.unwatchGate) return;
    this.ticker = setTimeout(() => {
      this.ticker = null;
      this.evaluateQuality(false);
    }, QUALITY_TICK_MS);
    this.ticker.unref?.();
  };

  async stop(): Promise<void> {
    if (this.ticker) clearTimeout(this.ticker);
    this.ticker = null;
    this.unwatchGate?.();
    this.unwatchGate = null;
    for (const e of this.entries.values()) this.retire(e);
    this.table = emptyTable(this.config, this.table.version + 1);
  }

  /** Only upstreams whose own config changed are rebuilt; in-flight requests keep the table (and objects) they started with. */
  async apply(next: Config, prev: Config, changed: ReadonlySet<Section> = changes(prev, next)): Promise<void> {
    const prevUpstreams = this.table.upstreams;
    const kept = this.swap(next);
    // Requests waiting in the queue were routed by the old table: when its upstreams changed (one removed, added or
    // reconfigured), they are routed again by the new one, so none is sent to an upstream the reload removed.
    const moved = prevUpstreams.length !== this.table.upstreams.length || this.table.upstreams.some((u, i) => prevUpstreams[i] !== u);
    if (moved && this.gate.length > 0) log.info("requests waiting in the queue are routed by the new configuration", { waiting: this.gate.reroute(this.table) });
    this.gate.wake();
    if (changed.has("health")) {
      const s = healthSettings(next.health);
      for (const e of kept) e.monitor.update(s);
    }
    if (changed.has("quality")) this.evaluateQuality(true);
  }

  /** Builds the next table for `config`, swaps it in, then retires what it left behind; returns the entries it kept. */
  private swap(config: Config): UpstreamEntry[] {
    const prev = this.table;
    const { table, retired, reconfigured } = nextTable(prev, config, (c) => this.open(c, config));
    this.table = table;
    for (const e of retired) {
      this.retire(e);
      log.info(reconfigured.has(e.upstream.name) ? "upstream reconfigured" : "upstream removed", { upstream: e.upstream.name });
    }
    return [...table.entries.values()].filter((e) => prev.entries.get(e.upstream.name) === e);
  }

  private open(c: UpstreamConfig, config: Config): UpstreamEntry {
    const u = new Upstream(c, resolved(config).metrics.window);
    // The router adds our own requests in flight to the load the server last reported.
    u.inFlight = () => this.gate.inFlight(c.name);
    u.onDirty = this.armQuality;
    const client = createUpstreamClient(u);
    const { fetch: f, session } = client instanceof FetchClient ? { fetch: client.fetch, session: null } : newSession();
    const monitor = new HealthMonitor(u, healthSettings(config.health), {
      checked: (up, change) => this.checked(up, change),
      refreshAuth: (up) => this.refreshAuth(up),
      fetch: f,
    });
    if (c.enabled) monitor.start();
    return { upstream: u, monitor, client, fetch: f, session };
  }

  private retire(e: UpstreamEntry): void {
    e.upstream.retired = true;
    e.monitor.stop();
    // Idle pooled connections only: requests in flight finish on theirs.
    e.client.close();
    e.session?.close();
  }

  private async refreshAuth(u: Upstream): Promise<void> {
    const name = u.config.auth_secret;
    if (!name) return u.setAuth(null);
    let unreadable: Error | null = null;
    const v = (await this.services.secrets?.get(name).catch((e: Error) => ((unreadable = e), null))) ?? null;
    // A store that cannot answer now (a keyring locked with the screen) says nothing about the key: the one in use stays.
    if (unreadable) {
      if (u.authValue === null && this.newTrouble(name, "unreadable")) log.warn(`auth secret "${name}" could not be read: ${(unreadable as Error).message}`, { upstream: u.name });
      return;
    }
    if (v !== null) this.secretTrouble.delete(name);
    // The name in the message: a field named like a secret would be logged as [redacted], hiding which one to store.
    if (v === null && u.authValue === null && this.newTrouble(name, "missing")) log.warn(`auth secret "${name}" not found; sending no credentials until it is stored (\`cloudtolocalllm-tunnel secret set ${name}\`)`, { upstream: u.name });
    registerSecret(v);
    u.setAuth(v);
  }

  /** Whether `trouble` of the secret `name` is news (not the one last logged of it), noting it as logged. */
  private newTrouble(name: string, trouble: string): boolean {
    if (this.secretTrouble.get(name) === trouble) return false;
    this.secretTrouble.set(name, trouble);
    return true;
  }

  private checked(u: Upstream, change: { from: UpstreamStatus["state"]; to: UpstreamStatus["state"]; reason?: string } | null): void {
    if (change) {
      const fields = { upstream: u.name, from: change.from, to: change.to, reason: change.reason };
      if (change.to === "down" || change.to === "degraded") log.warn("upstream state changed", fields);
      else log.info("upstream state changed", fields);
      this.events.emit("upstream.state", { name: u.name, from: change.from, to: change.to, reason: change.reason });
    }
    this.evaluate(u);
  }

  private evaluate(u: Upstream): void {
    u.dirty = false;
    const m = u.metrics.snapshot();
    const q: Quality = quality(u.state, m.errorRate, qualityLatency(m), this.config.quality, m.requests);
    if (q !== u.quality) {
      const from = u.quality;
      u.quality = q;
      this.events.emit("upstream.quality", { name: u.name, from, to: q });
    }
  }

  /** Traffic changes quality too: re-evaluated once a second for upstreams that saw requests. */
  private evaluateQuality(all: boolean): void {
    for (const e of this.entries.values()) if (all || e.upstream.dirty) this.evaluate(e.upstream);
  }

  private *upstreamObjects(): Iterable<Upstream> {
    for (const e of this.entries.values()) yield e.upstream;
  }

  // --- BrokerService -------------------------------------------------------------------------------------------

  upstreams(): UpstreamStatus[] {
    return [...this.entries.values()].map((e) => e.upstream.status());
  }

  upstream(name: string): UpstreamStatus | undefined {
    return this.entries.get(name)?.upstream.status();
  }

  async check(name: string): Promise<UpstreamStatus> {
    const e = this.entries.get(name);
    if (!e) throw new Error(`no upstream named "${name}"`);
    // A disabled upstream gets no call of any kind (a paid service, a box being retired), an asked-for check neither.
    if (!e.upstream.enabled) throw new HttpError("conflict", `upstream "${name}" is disabled (enabled = false in its [[upstreams]] entry), so it is not checked`);
    await e.monitor.check();
    return e.upstream.status();
  }

  async reconnectAll(): Promise<void> {
    for (const e of this.entries.values()) {
      e.client.close();
      e.session?.close();
    }
    await Promise.all([...this.entries.values()].filter((e) => e.upstream.enabled).map((e) => e.monitor.check()));
  }

  models(): { name: string; upstreams: string[]; loaded: string[] }[] {
    return modelIndex([...this.entries.values()].filter((e) => e.upstream.enabled && e.upstream.usable).map((e) => e.upstream));
  }

  refuseQueued(keyHash: string, why: Error): number {
    // The gate's buckets are the keys' hashes (pipeline/route.ts).
    return this.gate.refuseBucket(keyHash, why);
  }

  serves(model: string): boolean {
    if (this.aliases.has(model)) return true;
    for (const e of this.entries.values()) if (e.upstream.serves(model)) return true;
    return false;
  }

  overallQuality(): Quality {
    return verdict(this.upstreams()).quality;
  }

  queue(): QueueStatus {
    return { waiting: this.gate.length, ...this.gate.stats };
  }

  /** Not async itself (an async frame per request costs a generator, a scope and a promise): the listings have their own. */
  /** `admit`: called once the caller is let in (its key accepted, or a caller that needs none), before any other work. */
  handle(req: Request, source: "local" | "tunnel", peer: string | null = null, admit?: (req: Request) => void): Promise<Response> | Response {
    // req.url is a getter that builds a string: read it once.
    const url = req.url;
    const path = urlPath(url);
    const search = urlSearch(url);
    // A key in the URL is refused before anything reads the call: it would otherwise reach the upstream (and its logs).
    if (search.length > 1) {
      const inQuery = queryKeyRefusal(search);
      if (inQuery) return errorResponse(path, inQuery, listingDialect(req, path));
    }
    // Who is calling, before anything else is read: one check for the listener and the tunnel alike (src/gateway).
    const gateway = this.deps.gateway();
    let admitted: Admitted | null = null;
    // The headers as one object, read once for admission, the upstream request and the record (src/broker/exchange.ts).
    let headerJson: HeaderJson | null = null;
    if (gateway) {
      try {
        const caller = source === "local" && peer === LOOPBACK_CALLER.ip ? LOOPBACK_CALLER : { source, ip: peer };
        admitted = gateway.admit(req.headers, caller, (headerJson = req.headers.toJSON() as HeaderJson));
      } catch (e) {
        return errorResponse(path, e, listingDialect(req, path));
      }
    }
    admit?.(req);
    // HEAD is the listing's GET without its body (Bun drops it and declares its length), not the upstream's unfiltered list.
    if (req.method === "GET" || req.method === "HEAD") {
      // Decided on the route the upstream serves (routeOf: "/api/%74ags" is /api/tags to Ollama's router), so no spelling
      // of a listing reaches the upstream's unfiltered list past a key's model list.
      const route = routeOf(path);
      const what = route === "/api/tags" ? "ollama-tags" : route === "/api/ps" ? "ollama-ps" : route === "/v1/models" ? "openai" : null;
      if (what) return this.listing(req, source, route, what, gateway, admitted, what === "openai" && wantsAnthropicList(req.headers) ? { query: search, id: null } : null);
      // An Anthropic client's models.retrieve: answered from the merged list in its shape, as its models.list is (an
      // upstream's own /v1/models/{id} answers in OpenAI's). An OpenAI client's goes to the upstream as before.
      const id = wantsAnthropicList(req.headers) ? oneModelId(route, path) : null;
      if (id !== null) return this.listing(req, source, path, "openai", gateway, admitted, { query: "", id });
    }
    return proxy(this.deps, req, source, path, search, admitted, headerJson);
  }

  /** GET /api/tags, /api/ps and /v1/models: the upstreams' lists merged, as this caller may see them. */
  /**
   * `anthropic`: an Anthropic client's GET /v1/models (its query: the list is answered in Anthropic's shape) or
   * GET /v1/models/{id} (the one model, in that shape), else null.
   */
  private async listing(req: Request, source: "local" | "tunnel", path: string, what: "ollama-tags" | "ollama-ps" | "openai", gateway: GatewayService | undefined, admitted: Admitted | null, anthropic: AnthropicAsk | null = null): Promise<Response> {
    if (admitted) {
      try {
        gateway!.authorize(admitted, undefined);
      } catch (e) {
        return errorResponse(path, e, anthropic ? "anthropic" : undefined);
      }
    }
    const ex = new Exchange(source, "GET", path, null, this.events, { enabled: false, cap: 0 }, null);
    ex.requestHeaders = req.headers;
    if (admitted) {
      ex.keyName = admitted.key?.name ?? null;
      ex.caller = admitted.caller;
    }
    // A key with a model list sees only what it may use (an alias when it may use the alias or its model).
    const a = admitted;
    const shown = a?.key && a.key.models.length > 0 ? (name: string) => this.listable(gateway!, a, name) : null;
    const res = await this.mergedList(path, what, shown, anthropic);
    const body = await res.bytes();
    ex.bytesOut = body.byteLength;
    ex.ttfbMs = performance.now() - ex.started;
    ex.responseHeaders = res.headers;
    // The record's id in the dialect's header, as every other answer names it (models.list/retrieve's _request_id).
    ex.dialect = anthropic !== null ? "anthropic" : dialectOf(path);
    nameRequest(ex, res.headers);
    ex.fail(res.status, res.ok ? null : "no upstream answered with its model list");
    // Declared, as Bun's server would: the tunnel's agent sends a sized answer whole, and a HEAD's length crosses with it.
    res.headers.set("content-length", String(body.byteLength));
    return new Response(body, { status: res.status, headers: res.headers });
  }

  /** Whether a listing shows `name` to this caller: a model it may use, or an alias of one (either name allowed). */
  private listable(gateway: GatewayService, a: Admitted, name: string): boolean {
    if (gateway.mayUse(a, name)) return true;
    const alias = this.aliases.get(name);
    return alias !== undefined && gateway.mayUse(a, alias.model);
  }

  /**
   * /api/tags, /api/ps and /v1/models: the lists of every reachable upstream, merged (first by priority wins).
   * One behaviour whether no upstream ever came up or a running one died: when none answers with its list the answer
   * is an error (502 upstream_error, in the path's dialect) that names each upstream's reason and the fix, never an
   * empty list that an Ollama client would show as "no models installed". When every upstream is down, they are asked
   * anyway: a health check may not have noticed a recovery yet, and a list that answers is the truth. With `shown`,
   * only the entries it passes.
   */
  private async mergedList(path: string, what: Listing, shown: ((name: string) => boolean) | null, anthropic: AnthropicAsk | null = null): Promise<Response> {
    // An Anthropic client's errors in its shape (the route alone would say OpenAI's).
    const fail = (code: ErrorCode, message: string) => (anthropic !== null ? new HttpError(code, message).render("anthropic") : brokerError(path, code, message));
    const enabled = routeOrder(this.upstreamObjects(), null);
    if (enabled.length === 0) return fail("no_upstream", "no upstream is enabled in the broker's configuration");
    const notDown = enabled.filter((u) => u.state !== "down");
    const ups = notDown.length ? notDown : enabled;
    const timeoutMs = resolved(this.config).health.timeout;
    const failures: string[] = [];
    const results = await Promise.all(
      ups.map(async (u) => {
        // Where this kind serves the list, and in which shape (src/kinds/); null: it names no models there.
        const source = what === "ollama-tags" ? u.module.listing.tags : what === "ollama-ps" ? u.module.listing.ps : u.module.listing.openai;
        if (!source) return null;
        const e = this.entries.get(u.name);
        let answered = false;
        try {
          if (u.tlsError) throw new Error(u.tlsError);
          // The upstream's own trust (ca_file, tls_insecure), as for its requests.
          const res = await (e?.upstream === u ? e.fetch : fetch)(u.base + u.withQuery(source.path), { headers: upstreamHeaders(null, u), signal: AbortSignal.timeout(timeoutMs), decompress: false, redirect: "manual", tls: u.tls } as RequestInit);
          if (!res.ok) {
            void res.body?.cancel().catch(() => {});
            failures.push(`upstream "${u.name}" answered ${res.status}`);
            return null;
          }
          answered = true;
          const json = (await boundedJson(res, `its ${source.path}`)) as any;
          // A down upstream answered: check it now rather than at down_interval.
          if (u.state === "down" && e?.upstream === u) void e.monitor.check();
          const list = convertListing(json, source.shape, what);
          // Every entry's name as the merge reads it (name, else model): one entry without a name does not fail the list.
          if (what === "ollama-tags" && Array.isArray(list.models)) u.setModels(ollamaNames(list));
          // Entries are passed on whole: one nested too deeply to serialize would fail the merged answer of every upstream.
          if (!serializable(list)) throw new Error(`its ${source.path} is nested too deeply to pass on`);
          return list;
        } catch (err) {
          const reason = describeFetchError(err);
          // A list that came but cannot be used (too large, not JSON, too deep) is the upstream's answer, not its absence.
          if (answered && !(err instanceof Error && err.name === "TimeoutError")) {
            failures.push(`upstream "${u.name}" answered a model list the broker cannot use: ${reason}`);
            return null;
          }
          const fix = fixFor({ ...u.status(), lastError: reason });
          failures.push(`upstream "${u.name}" could not be reached: ${reason}${fix ? ` — ${fix}` : ""}`);
          return null;
        }
      }),
    );
    const ok = results.filter((r) => r !== null);
    if (ok.length === 0) return fail("upstream_error", `no upstream answered with its model list: ${failures.join("; ") || "none lists models in this form"}`);
    if (what === "openai") {
      const merged = mergeOpenAiModels(ok);
      const data = onlyShown(listWithAliases(merged.data, this.aliases, "id"), "id", shown);
      if (anthropic?.id != null) {
        const one = data.find((e) => e.id === anthropic.id);
        // Not listed, or not for this key: as Anthropic's API answers a model it does not know.
        return one ? Response.json(anthropicModelInfo(one)) : fail("not_found", `model "${anthropic.id}" is not served by any upstream${shown ? " this key may use" : ""}`);
      }
      return Response.json(anthropic !== null ? anthropicModelList(data, new URLSearchParams(anthropic.query)) : { ...merged, data });
    }
    const merged = mergeOllamaModels(ok);
    const models = what === "ollama-tags" ? listWithAliases(merged.models, this.aliases, "name") : merged.models;
    return Response.json({ ...merged, models: onlyShown(models, "name", shown) });
  }
}

/** Whether JSON.stringify can write `v` (it throws on nesting deeper than its stack). */
function serializable(v: unknown): boolean {
  try {
    JSON.stringify(v);
    return true;
  } catch {
    return false;
  }
}

/**
 * The dialect a refusal of an Anthropic client's model listing (GET or HEAD /v1/models, /v1/models/{id}, told by its
 * anthropic-version) is answered in: Anthropic's, as its list is, though the path is OpenAI's; undefined for any other
 * request (its path's dialect). Read only when a request is refused.
 */
function listingDialect(req: Request, path: string): Dialect | undefined {
  if ((req.method !== "GET" && req.method !== "HEAD") || !wantsAnthropicList(req.headers)) return undefined;
  const route = routeOf(path);
  return route === "/v1/models" || route.startsWith("/v1/models/") ? "anthropic" : undefined;
}
