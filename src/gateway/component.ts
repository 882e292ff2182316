// The gateway as a daemon component: the keys file and the one admission check, published as ctx.services.gateway.
import { dirname, join } from "node:path";
import { isLoopbackHost, splitListen } from "../config/listen.ts";
import type { Config } from "../config/schema.ts";
import type { ComponentFactory } from "../core/component.ts";
import type { GatewayService } from "../core/contracts.ts";
import { ListenError } from "../core/listen-error.ts";
import { logger } from "../core/log.ts";
import { Admission } from "./admission.ts";
import { revokedWhileQueued } from "../core/queued-key-refusals.ts";
import { BlobGrants } from "./blob-grants.ts";
import { KeyStore } from "./key-store.ts";
import { watchKeysFile } from "./keys-file-watch.ts";
import { createKey, keyInfo } from "./keys.ts";
import { MAX_MODELS_PER_DAY, OTHER_MODEL, UsageLedger } from "./usage-ledger.ts";
import { BoundedLabels } from "./bounded-labels.ts";
import { FastCounter } from "../core/fast-metrics.ts";
import { metricsRegistry } from "../core/metrics-registry.ts";

const log = logger("gateway");

/**
 * Why this config may not run with these keys, or null: a broker listening beyond loopback under require_key auto or
 * always with no usable key would refuse every other machine (auto) or everyone (always), which is never what was meant.
 */
export function openWithoutKeys(config: Config, store: KeyStore): string | null {
  const p = config.proxy;
  if (!p.enabled || p.require_key === "never" || isLoopbackHost(splitListen(p.listen).hostname) || store.hasUsableKey()) return null;
  return `[proxy] listen = "${p.listen}" reaches other machines, and require_key = "${p.require_key}" needs an API key that does not exist yet: create one with \`cloudtolocalllm-tunnel key create NAME\`, listen on 127.0.0.1, or set require_key = "never" to let that network in without keys`;
}

/** Tokens and requests by key and model, for Prometheus (the ledger keeps the daily figures). */
const usageTokens = new FastCounter({ registry: metricsRegistry, name: "c2l_usage_tokens_total", help: "Tokens used, by API key (\"-\" for none), model and kind (prompt or completion).", labelNames: ["key", "model", "kind"] });
const usageRequests = new FastCounter({ registry: metricsRegistry, name: "c2l_usage_requests_total", help: "Requests through the broker, by API key, model and caller class (local, lan, tunnel).", labelNames: ["key", "model", "caller"] });

/** How often the usage counters are written to disk (and at stop). */
const FLUSH_MS = 5000;

export function createGatewayComponent(file?: string, usageFile?: string): ComponentFactory {
  return (ctx) => {
    const store = new KeyStore(file);
    // A model an upstream lists keeps its own row and series past the bounds: a caller's made-up names cannot push it out.
    const listed = (model: string) => ctx.services.broker?.serves?.(model) ?? false;
    const ledger = new UsageLedger(usageFile, Date.now, listed);
    const metricModels = new BoundedLabels(MAX_MODELS_PER_DAY, OTHER_MODEL, listed);
    // Beside the usage file: the same state directory, the same 0600 and atomic writes.
    const blobs = new BlobGrants(join(dirname(ledger.file), "blobs.json"));
    const admission = new Admission(store, () => ctx.config.current().proxy.require_key, Date.now, (k) => ledger.tokensToday(k), blobs);
    let off: (() => void) | null = null;
    let unwatch: (() => void) | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    // A key revoked (here, or by the CLI: watchKeysFile) stops what it has waiting in the queue now, in each caller's
    // dialect, rather than each request being refused when its turn comes (it held a place until then).
    store.onRemoved = (gone) => {
      for (const k of gone) {
        const n = ctx.services.broker?.refuseQueued?.(k.hash, revokedWhileQueued(k.name)) ?? 0;
        if (n > 0) log.info("refused the requests a revoked key had waiting in the queue", { name: k.name, requests: n });
      }
    };
    // A full disk stays full for hours while traffic goes on: one warn line per cause, not one every FLUSH_MS (the
    // tries after it are debug lines), and one line when the file is written again.
    let unwrittenWhy: string | null = null;
    const unwritten = (e: unknown) => {
      const why = e instanceof Error ? e.message : String(e);
      if (why === unwrittenWhy) return log.debug("could not write the usage file again", { file: ledger.file, error: why });
      unwrittenWhy = why;
      log.warn("could not write the usage file; counting goes on in memory", { file: ledger.file, error: e as Error });
    };
    const written = () => {
      if (unwrittenWhy === null) return;
      unwrittenWhy = null;
      log.info("the usage file is written again", { file: ledger.file });
    };
    // Off the main thread: its fsyncs held up requests for 3–4 ms every 5 s under traffic (docs/performance.md).
    const flush = () => {
      timer = null;
      ledger.flushInBackground().then(written, unwritten);
    };
    const service: GatewayService = {
      admit: (headers, caller, json) => admission.admit(headers, caller, json),
      authorize: (a, model, alias, request) => admission.authorize(a, model, alias, request),
      mayUse: (a, model) => admission.mayUse(a, model),
      grantBlob: (a, digest) => admission.grantBlob(a, digest),
      reserve: (a, body, promptTokens, generates) => admission.reserve(a, body, promptTokens, generates),
      recheck: (a) => admission.recheck(a),
      unqueued: (a) => admission.unqueued(a),
      keys: () => store.list().map(keyInfo),
      key: (name) => {
        const r = store.get(name);
        return r ? keyInfo(r) : undefined;
      },
      createKey: (name, limits) => {
        const made = createKey(name, limits);
        store.add(made.record);
        log.info("API key created", { name, prefix: made.record.prefix });
        return { key: made.key, info: keyInfo(made.record) };
      },
      revokeKey: (name) => {
        const done = store.revoke(name);
        if (done) log.info("API key revoked", { name });
        return done;
      },
      usage: (q) => ledger.query(q),
    };
    return {
      name: "gateway",
      async start() {
        if (store.lastError) log.warn(store.lastError);
        const refusal = openWithoutKeys(ctx.config.current(), store);
        if (refusal) throw new ListenError("proxy.require_key", refusal);
        unwatch = watchKeysFile(store);
        if (ctx.config.current().proxy.require_key === "never" && !isLoopbackHost(splitListen(ctx.config.current().proxy.listen).hostname))
          log.warn("the broker listens beyond loopback with require_key = never: every machine on that network may use it without a key");
        off = ctx.events.on("request.completed", (e) => {
          const r = e.data;
          // The name the ledger counted it under: a caller's endless new model names share one series past the day's bound.
          const key = r.key ?? "-";
          const caller = r.caller ?? (r.source === "tunnel" ? "tunnel" : "local");
          // The ledger's bound is per day; the series live as long as the process: bounded again over its life.
          const model = metricModels.labelFor(key, caller, ledger.add(r));
          // child3: no label object or key string per request.
          usageRequests.child3(key, model, caller).inc();
          if (r.promptTokens) usageTokens.child3(key, model, "prompt").inc(r.promptTokens);
          if (r.completionTokens) usageTokens.child3(key, model, "completion").inc(r.completionTokens);
          // Written within FLUSH_MS of the first request after the last write: no timer wakes an idle daemon.
          if (!timer && off) {
            timer = setTimeout(flush, FLUSH_MS);
            timer.unref?.();
          }
        });
        ctx.services.gateway = service;
      },
      async stop() {
        off?.();
        off = null;
        unwatch?.();
        unwatch = null;
        if (timer) clearTimeout(timer);
        timer = null;
        try {
          await ledger.close();
        } catch (e) {
          unwritten(e);
        }
        await blobs.flush();
      },
      // A reload that would open the broker without keys is refused before anything changes.
      async prepare(next) {
        // The file as it is now: a key revoked a moment ago must count as gone.
        store.refresh(true);
        const refusal = openWithoutKeys(next, store);
        if (refusal) throw new ListenError("proxy.require_key", refusal);
      },
    };
  };
}
