// The tray's two seams: where its picture of the daemon comes from, and how menu actions reach the daemon (HTTP for the `tray` command, in-process inside the daemon).
import type { LinkState } from "./status-follower.ts";

export interface StatusSource {
  /** The current picture; the source calls the onChange it was made with after each change. */
  readonly state: LinkState;
  start(): void;
  stop(): void;
  /** Tries to reach the daemon again now (after "Start daemon"); a no-op where the daemon is this process. */
  reconnectNow(): void;
}

/** A sign-in started from the menu: the code to show and the page to open. */
export interface SignIn {
  userCode: string;
  expiresAt: string;
  verificationUri: string;
  verificationUriComplete?: string | null;
}

/** What the menu's daemon actions do; each throws an Error whose message is shown in the menu when it fails. */
export interface TrayActions {
  tunnel(action: "start" | "stop" | "restart"): Promise<void>;
  reconnect(): Promise<void>;
  /** A one-time dashboard sign-in URL. */
  dashboardUrl(): Promise<string>;
  login(): Promise<SignIn>;
  logout(): Promise<void>;
  approve(code: string): Promise<void>;
  /** The control API's base URL (for "Open API docs" and the About menu). */
  apiBase(): string;
}
