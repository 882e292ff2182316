// The gateway as a daemon component: the keys file and the one admission check, published as ctx.services.gateway.
import { isLoopbackHost, splitListen } from "../config/listen.ts";
import type { Config } from "../config/schema.ts";
import type { ComponentFactory } from "../core/component.ts";
import type { GatewayService } from "../core/contracts.ts";
import { ListenError } from "../core/listen-error.ts";
import { logger } from "../core/log.ts";
import { Admission } from "./admission.ts";
import { KeyStore } from "./key-store.ts";
import { createKey, keyInfo } from "./keys.ts";

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

export function createGatewayComponent(file?: string): ComponentFactory {
  return (ctx) => {
    const store = new KeyStore(file);
    const admission = new Admission(store, () => ctx.config.current().proxy.require_key);
    const service: GatewayService = {
      admit: (headers, caller) => admission.admit(headers, caller),
      authorize: (a, model, alias) => admission.authorize(a, model, alias),
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
    };
    return {
      name: "gateway",
      async start() {
        if (store.lastError) log.warn(store.lastError);
        const refusal = openWithoutKeys(ctx.config.current(), store);
        if (refusal) throw new ListenError("proxy.require_key", refusal);
        if (ctx.config.current().proxy.require_key === "never" && !isLoopbackHost(splitListen(ctx.config.current().proxy.listen).hostname))
          log.warn("the broker listens beyond loopback with require_key = never: every machine on that network may use it without a key");
        ctx.services.gateway = service;
      },
      async stop() {},
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
