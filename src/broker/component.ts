// The broker as a daemon component: builds the Broker, publishes it as ctx.services.broker, runs the listener.
import type { ComponentFactory } from "../daemon/component.ts";
import { Broker } from "./broker.ts";
import { ProxyListener } from "./listener.ts";
import { logger } from "../core/log.ts";

const log = logger("broker");

export const createBrokerComponent: ComponentFactory = (ctx) => {
  let broker: Broker | null = null;
  let listener: ProxyListener | null = null;
  return {
    name: "broker",
    async start() {
      const config = ctx.config.current();
      broker = new Broker(config, ctx.events, ctx.services);
      await broker.start();
      ctx.services.broker = broker;
      listener = new ProxyListener(broker, config);
      // A busy port must not take the daemon down: the tunnel and the API still work through the broker service.
      if (config.proxy.enabled) {
        try {
          listener.start(config.proxy);
        } catch (e) {
          log.error(`${(e as Error).message}; the Ollama-compatible endpoint stays off until [proxy] listen changes`);
        }
      }
    },
    async stop() {
      await listener?.stop(true);
      await broker?.stop();
      if (ctx.services.broker === broker) delete ctx.services.broker;
      listener = null;
      broker = null;
    },
    async apply(next, prev) {
      await broker?.apply(next, prev);
      if (JSON.stringify(next.proxy) !== JSON.stringify(prev.proxy)) await listener?.apply(next.proxy);
    },
  };
};
