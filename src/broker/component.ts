// The broker as a daemon component: builds the Broker, publishes it as ctx.services.broker, runs the listener.
import type { ComponentFactory } from "../core/component.ts";
import { HttpError } from "../core/http-error.ts";
import { Broker } from "./broker.ts";
import { endStreams } from "./exchange.ts";
import { ProxyListener } from "./listener.ts";

export const createBrokerComponent: ComponentFactory = (ctx) => {
  let broker: Broker | null = null;
  let listener: ProxyListener | null = null;
  let offShutdown: (() => void) | null = null;
  /** Requests the queue answered when the daemon began to stop: their answers get a moment to leave before the listener closes. */
  let unqueued = 0;
  // The queue closes as soon as the daemon begins to stop, before the tunnel's grace for running answers: a request
  // still waiting hears why at once (here and through the relay) rather than start a generation no one will let finish.
  const closeQueue = () => {
    unqueued += broker?.gate.close(new HttpError("unavailable", "the daemon is stopping; the request waited in the queue and was not started")) ?? 0;
  };
  return {
    name: "broker",
    async start() {
      const config = ctx.config.current();
      broker = new Broker(config, ctx.events, ctx.services);
      unqueued = 0;
      await broker.start();
      ctx.services.broker = broker;
      offShutdown = ctx.events.on("shutdown", closeQueue);
      listener = new ProxyListener(broker, config);
      ctx.services.brokerUrl = () => listener?.url ?? null;
      // A taken port fails the start (a ListenError naming [proxy] listen): a daemon without the broker it was asked for
      // would look healthy while every local app fails, so `serve` exits 1 with that sentence instead.
      if (config.proxy.enabled) listener.start(config.proxy);
    },
    async prepare(next) {
      return listener?.prepare(next.proxy);
    },
    async stop() {
      offShutdown?.();
      offShutdown = null;
      closeQueue();
      // Answers still streaming end with this reason (an error line or event), not with a reset connection.
      await endStreams("the daemon is stopping; the answer is incomplete");
      if (unqueued > 0) await Bun.sleep(50);
      await listener?.stop(true);
      await broker?.stop();
      if (ctx.services.broker === broker) delete ctx.services.broker;
      listener = null;
      broker = null;
    },
    async apply(next, prev, changed) {
      await broker?.apply(next, prev, changed);
      if (changed.has("proxy")) await listener?.apply(next.proxy);
    },
  };
};
