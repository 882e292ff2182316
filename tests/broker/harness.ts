// Builds an in-process broker (service + listener) on an ephemeral port from a TOML snippet, for the broker tests.
import { testConfig } from "../helpers/test-config.ts";
import type { Config } from "../../src/config/schema.ts";
import { EventBus, type DaemonEvent } from "../../src/core/events.ts";
import { Broker } from "../../src/broker/broker.ts";
import { ProxyListener } from "../../src/broker/listener.ts";
import type { Services } from "../../src/core/component.ts";

export interface TestBroker {
  url: string;
  broker: Broker;
  listener: ProxyListener;
  events: EventBus;
  seen: DaemonEvent[];
  config: Config;
  services: Services;
  /** Waits until the named upstream reaches a state. */
  waitState(name: string, state: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function upstreamToml(name: string, url: string, extra = ""): string {
  return `[[upstreams]]\nname = "${name}"\nurl = "${url}"\n${extra}\n`;
}

/** `proxyExtra` adds keys to [proxy], whose listen address is always an ephemeral loopback port. */
export const makeConfig = testConfig;

export async function startBroker(toml: string, services: Services = {}, proxyExtra = ""): Promise<TestBroker> {
  const config = makeConfig(toml, proxyExtra);
  const events = new EventBus();
  const seen: DaemonEvent[] = [];
  events.on("*", (e) => void seen.push(e));
  const broker = new Broker(config, events, services);
  await broker.start();
  const listener = new ProxyListener(broker, config);
  listener.start(config.proxy);
  const tb: TestBroker = {
    url: listener.url!,
    broker,
    listener,
    events,
    seen,
    config,
    services,
    async waitState(name, state, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      while (broker.upstream(name)?.state !== state) {
        if (Date.now() > end) throw new Error(`upstream ${name} is ${broker.upstream(name)?.state}, expected ${state}`);
        await Bun.sleep(10);
      }
    },
    async stop() {
      await listener.stop(true);
      await broker.stop();
    },
  };
  return tb;
}

/** Reads a body to the end as text, also when the stream ends with an error (returns what arrived and the error). */
export async function readAll(res: Response): Promise<{ text: string; error: unknown }> {
  const dec = new TextDecoder();
  let text = "";
  try {
    for await (const c of res.body!) text += dec.decode(c, { stream: true });
    return { text, error: null };
  } catch (e) {
    return { text, error: e };
  }
}
