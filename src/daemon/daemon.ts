// The daemon: builds the components from the table, starts them, applies reloads and stops them within a bounded time.
import type { Config, Section } from "../config/schema.ts";
import { EventBus } from "../core/events.ts";
import { logger, setLogLevel } from "../core/log.ts";
import { VERSION } from "../core/build-info.ts";
import type { Component, ComponentFactory, DaemonContext, Prepared, Services } from "../core/component.ts";
import { ConfigRuntime } from "./config-runtime.ts";

const log = logger("daemon");

export interface DaemonOptions {
  file: string;
  config: Config;
  factories: ComponentFactory[];
  stopTimeoutMs?: number;
}

export class Daemon {
  readonly events = new EventBus();
  readonly services: Services = {};
  readonly runtime: ConfigRuntime;
  readonly ctx: DaemonContext;
  private components: Component[] = [];
  private stopping: Promise<void> | null = null;
  private resolveDone!: (reason: string) => void;
  /** Resolves with the reason once the daemon has been asked to shut down. */
  readonly done = new Promise<string>((r) => (this.resolveDone = r));

  constructor(private readonly opts: DaemonOptions) {
    this.runtime = new ConfigRuntime(
      opts.file,
      opts.config,
      this.events,
      (next, prev, changed) => this.apply(next, prev, changed),
      (next, prev) => this.prepare(next, prev),
    );
    const runtime = this.runtime;
    this.ctx = {
      config: { runtime, current: () => runtime.current(), path: () => runtime.file, lastReload: () => runtime.lastReload() },
      events: this.events,
      services: this.services,
      startedAt: new Date(),
      shutdown: (reason) => this.resolveDone(reason),
    };
  }

  /** Starts the components in order; when one fails (e.g. its port is taken), the ones already started are stopped and the error is thrown. Then, all
   * started, what reaches beyond this machine (the tunnel): a daemon that could not start never touched the relay. */
  async start(): Promise<void> {
    setLogLevel(this.runtime.current().logging.level);
    for (const factory of this.opts.factories) {
      const c = factory(this.ctx);
      this.components.push(c);
      try {
        await c.start();
      } catch (e) {
        // Nothing half-started may stay behind (a broker listening without its API).
        await this.stop(`${c.name} failed to start`);
        throw e;
      }
      log.debug("component started", { component: c.name });
    }
    for (const c of this.components) await c.started?.();
    this.events.emit("daemon.started", { version: VERSION, pid: process.pid });
  }

  /** A reload's first phase: every component binds what `next` needs; the first refusal releases the others and is thrown. */
  private async prepare(next: Config, prev: Config): Promise<void> {
    const prepared: Prepared[] = [];
    try {
      for (const c of this.components) {
        const p = await c.prepare?.(next, prev);
        if (p) prepared.push(p);
      }
    } catch (e) {
      for (const p of prepared.reverse()) {
        try {
          await p.release();
        } catch (err) {
          log.warn("could not release what a refused reload had bound", { error: err });
        }
      }
      throw e;
    }
  }

  private async apply(next: Config, prev: Config, changed: ReadonlySet<Section>): Promise<void> {
    setLogLevel(next.logging.level);
    for (const c of this.components) {
      try {
        await c.apply?.(next, prev, changed);
      } catch (e) {
        log.error("component failed to apply the new configuration", { component: c.name, error: e });
      }
    }
  }

  stop(reason: string): Promise<void> {
    if (this.stopping) return this.stopping;
    this.events.emit("shutdown", { reason });
    const timeout = (this.opts.stopTimeoutMs ?? 1500) + Math.max(0, ...this.components.map((c) => c.stopGraceMs?.() ?? 0));
    const all = (async () => {
      for (const c of [...this.components].reverse()) {
        try {
          await c.stop();
        } catch (e) {
          log.warn("component failed to stop cleanly", { component: c.name, error: e });
        }
      }
    })();
    this.stopping = Promise.race([all, Bun.sleep(timeout).then(() => log.warn("stop timed out; exiting anyway"))]);
    return this.stopping;
  }
}
