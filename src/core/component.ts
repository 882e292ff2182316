// The contract every part of the daemon follows, and the context it is built from (below every feature: features import it, it imports none).
import type { Config, Section } from "../config/schema.ts";
import type {
  AlertsService,
  AuthService,
  BrokerService,
  ConfigRuntimeControl,
  ConfigService,
  GatewayService,
  InspectorService,
  MetricsHistoryService,
  SecretStore,
  TunnelControl,
} from "./contracts.ts";
import type { EventBus } from "./events.ts";

export interface Component {
  readonly name: string;
  start(): Promise<void>;
  /**
   * Called once every component has started (the API listens): what reaches beyond this machine begins here, not in
   * start(). A daemon that then fails to start (a second copy, its ports held by the first) must not have touched what
   * the running one holds: the relay hands a tunnel to the newest agent, so its connection would cut the running one's.
   */
  started?(): Promise<void>;
  /** Must finish promptly: the daemon gives all components a bounded time to stop. */
  stop(): Promise<void>;
  /** Time stop() may take beyond that bound, to let in-flight work finish (the tunnel's go_away_grace). */
  stopGraceMs?(): number;
  /**
   * Called after every accepted reload (file save, SIGHUP, API), for every component, in start order, with the new
   * config and the one it replaces. The contract:
   * - `changed` holds the sections that differ (computed once by the config runtime): return at once when none you
   *   use is among them (or compare the fields themselves): no reconnects, no rebinding, no dropped in-flight requests;
   * - durations come resolved to milliseconds from `resolved(next)` (src/config/resolve.ts), never parsed here;
   * - when something did change, apply just that (e.g. rebind only if `listen` changed, keep streams running);
   * - `next` is already validated; never read the file yourself. A rejected file never reaches apply().
   * - throwing is logged and does not stop the other components from applying.
   */
  apply?(next: Config, prev: Config, changed: ReadonlySet<Section>): Promise<void>;
  /**
   * The first phase of a reload, for what can fail for reasons outside the file (a port another program holds): called
   * for every component before any apply(), it binds what `next` needs beside what runs now (never closing anything)
   * and returns how to let go of it. Throwing (a ListenError names the field) refuses the whole reload: every component
   * that prepared is released, none applies, the running config stays and the reload is reported as rejected.
   * apply() then takes over what was prepared.
   */
  prepare?(next: Config, prev: Config): Promise<Prepared | void>;
}

/** What a component bound in prepare(); released when another component refused the reload. */
export interface Prepared {
  release(): Promise<void>;
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
  /** API keys and the one admission check (broker and tunnel). */
  gateway?: GatewayService;
  /** The broker's listener as a client on this machine reaches it (http://127.0.0.1:11435), or null when it is off. */
  brokerUrl?: () => string | null;
  /** The control API as a client on this machine reaches it (its bound port), or null while it does not listen. */
  apiUrl?: () => string | null;
}

export interface DaemonContext {
  config: ConfigService & { runtime: ConfigRuntimeControl };
  events: EventBus;
  services: Services;
  startedAt: Date;
  /** Asks the daemon to shut down (e.g. from a signal or the API). */
  shutdown(reason: string): void;
}

export type ComponentFactory = (ctx: DaemonContext) => Component;
