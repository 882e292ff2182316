// The contract every part of the daemon follows, and the context it is built from.
import type { Config } from "../config/schema.ts";
import type { AlertsService, BrokerService, ConfigService, SecretStore, TunnelControl } from "../core/contracts.ts";
import type { AuthService } from "../auth/manager.ts";
import type { EventBus } from "../core/events.ts";
import type { ConfigRuntime } from "./config-runtime.ts";
import type { InspectorService } from "../inspector/ring.ts";
import type { MetricsHistoryService } from "../dashboard/history-component.ts";

export interface Component {
  readonly name: string;
  start(): Promise<void>;
  /** Must finish promptly: the daemon gives all components a bounded time to stop. */
  stop(): Promise<void>;
  /**
   * Called after every accepted reload (file save, SIGHUP, API), for every component, in start order, with the new
   * config and the one it replaces. The contract:
   * - compare only the settings you use (`changedSections(prev, next)` from config-runtime.ts, or the fields
   *   themselves) and return at once when none changed: no reconnects, no rebinding, no dropped in-flight requests;
   * - when something did change, apply just that (e.g. rebind only if `listen` changed, keep streams running);
   * - `next` is already validated; never read the file yourself. A rejected file never reaches apply().
   * - throwing is logged and does not stop the other components from applying.
   */
  apply?(next: Config, prev: Config): Promise<void>;
}

/** Services that components publish for each other (filled in during start, in COMPONENTS order). */
export interface Services {
  broker?: BrokerService;
  tunnel?: TunnelControl;
  alerts?: AlertsService;
  secrets?: SecretStore;
  /** Sign-in: accessToken(), onToken(cb), status(). */
  auth?: AuthService;
  inspector?: InspectorService;
  metricsHistory?: MetricsHistoryService;
  [extra: string]: unknown;
}

export interface DaemonContext {
  config: ConfigService & { runtime: ConfigRuntime };
  events: EventBus;
  services: Services;
  startedAt: Date;
  /** Asks the daemon to shut down (e.g. from a signal or the API). */
  shutdown(reason: string): void;
}

export type ComponentFactory = (ctx: DaemonContext) => Component;
