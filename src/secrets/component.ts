// The daemon component that opens the secret store first and publishes it as ctx.services.secrets.
import type { ComponentFactory } from "../core/component.ts";
import { logger } from "../core/log.ts";
import { openSecretStore, UnavailableSecretStore, withEnvOverride, type ClosableSecretStore } from "./open-secret-store.ts";
import { keepConfigPrivate } from "./config-file-mode.ts";

const log = logger("secrets");

export const createSecretsComponent: ComponentFactory = (ctx) => {
  let store: ClosableSecretStore | null = null;

  async function open(): Promise<void> {
    const config = ctx.config.current();
    try {
      store = await openSecretStore(config);
      ctx.services.secrets = store;
      if (store.brief) log.warn(store.brief);
      log.info("secret store ready", { backend: store.backend });
    } catch (e) {
      // The daemon still runs (environment secrets keep working); every keyring read reports this sentence.
      const msg = (e as Error).message;
      store = withEnvOverride(new UnavailableSecretStore(msg));
      store.checkConfig(config);
      ctx.services.secrets = store;
      log.error(msg);
    }
  }

  return {
    name: "secrets",
    async start() {
      keepConfigPrivate(ctx.config.path(), ctx.config.current());
      await open();
    },
    async stop() {
      await store?.close();
      store = null;
    },
    async apply(next, prev) {
      keepConfigPrivate(ctx.config.path(), next);
      if (next.secrets.backend === prev.secrets.backend) {
        store?.checkConfig(next);
        return;
      }
      const old = store;
      await open();
      await old?.close();
    },
  };
};
