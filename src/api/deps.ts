// What the API's modules get: the daemon context and the current API token (never the HTTP context inside services).
import type { DaemonContext } from "../core/component.ts";

export interface ApiDeps {
  ctx: DaemonContext;
  /** The bearer token the API accepts now. */
  token(): string;
}
