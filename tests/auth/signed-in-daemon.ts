// Test helper: a real oidc-provider, a relay with [oidc] trusting it, and a daemon with the tunnel on the account's token.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AUDIENCE, browse, CLIENT_ID, startProvider, type ProviderOptions, type TestProvider } from "./oidc-provider.ts";
import { BUN, REPO, removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { parseRelayConfig } from "../../src/relay/config.ts";
import { startRelay, type RelayServer } from "../../src/relay/server.ts";
import type { AuthSession } from "../../src/auth/session.ts";
import type { Alert, AuthStatus, TunnelStatus } from "../../src/core/contracts.ts";

export interface SetupOptions extends ProviderOptions {
  /** `[auth] refresh_before`. */
  refreshBefore: string;
  /** Extra `[alerts]` lines. */
  alerts?: string;
}

export interface SignedInDaemon {
  p: TestProvider;
  relay: RelayServer;
  d: DaemonProc;
  api(path: string, init?: RequestInit): Promise<Response>;
  auth(): Promise<AuthStatus>;
  tunnel(): Promise<TunnelStatus>;
  alerts(): Promise<Alert[]>;
  events(): Promise<{ type: string; data: any; time?: string }[]>;
  /** Device sign-in from the API, approved as `user` in the provider's own pages; resolves once signed_in. */
  signIn(user?: string): Promise<void>;
  /** The session as the daemon stored it (the file secret store). */
  stored(): AuthSession | null;
  /** Starts the daemon again on the same home (after a kill). */
  restart(): Promise<void>;
  /** Runs the CLI against this daemon: exit code and stdout (lines `status` wrapped at 80 columns joined again). */
  cli(...args: string[]): Promise<{ code: number; out: string }>;
  close(): Promise<void>;
}

export async function startSignedInSetup(o: SetupOptions): Promise<SignedInDaemon> {
  const p = await startProvider(o);
  const cfg = parseRelayConfig(`listen = "127.0.0.1:0"\n[oidc]\nissuer = "${p.issuer}"\naudience = "${AUDIENCE}"\n`);
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
  const relay = await startRelay(cfg.config);
  const home = tempHome("c2l-signin-");
  // The docs' setup: the tunnel on, [tunnel] token_secret left at its default (no agent token stored), [auth] set.
  const config = `[api]
listen = "127.0.0.1:0"
[proxy]
listen = "127.0.0.1:0"
[tunnel]
enabled = true
relay_url = "${relay.url.replace(/^http/, "ws")}/agent"
[secrets]
backend = "file"
[alerts]
notifications = false
${o.alerts ?? ""}
[auth]
issuer = "${p.issuer}"
client_id = "${CLIENT_ID}"
audience = "${AUDIENCE}"
scopes = ["openid", "profile", "offline_access", "tunnel"]
refresh_before = "${o.refreshBefore}"
`;
  let d = await startDaemon({ home, config });
  const token = () => readFileSync(join(home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
  const api = (path: string, init: RequestInit = {}) => fetch(`${d.urls.api}${path}`, { ...init, headers: { authorization: `Bearer ${token()}`, ...(init.headers ?? {}) } });
  const status = async () => (await (await api("/api/v1/status")).json()) as { tunnel: TunnelStatus; alerts: Alert[] };
  const self: SignedInDaemon = {
    p,
    relay,
    get d() {
      return d;
    },
    api,
    auth: async () => (await (await api("/api/v1/auth")).json()) as AuthStatus,
    tunnel: async () => (await status()).tunnel,
    alerts: async () => (await status()).alerts,
    events: async () => (await (await api("/api/v1/events")).json()) as { type: string; data: any }[],
    async signIn(user = "alice") {
      const r = await api("/api/v1/auth/login", { method: "POST" });
      if (r.status !== 202) throw new Error(`login: ${r.status} ${await r.text()}`);
      const started = (await r.json()) as { verificationUriComplete: string };
      await browse(started.verificationUriComplete, user);
      await until(async () => (await self.auth()).state === "signed_in", 20_000, "signed_in");
    },
    stored() {
      try {
        const file = JSON.parse(readFileSync(join(home, ".local/state/cloudtolocalllm/secrets.json"), "utf8"));
        return file.secrets["auth-session"] ? (JSON.parse(file.secrets["auth-session"]) as AuthSession) : null;
      } catch {
        return null;
      }
    },
    async restart() {
      d = await startDaemon({ home, config });
    },
    async cli(...args) {
      const proc = Bun.spawn([BUN, join(REPO, "src/main.ts"), ...args, "--url", d.urls.api!], { env: d.env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
      const [code, out] = await Promise.all([proc.exited, new Response(proc.stdout).text()]);
      return { code, out: out.replace(/\n +/g, " ") };
    },
    async close() {
      await d.stop().catch(() => {});
      removeHome(home);
      await relay.stop();
      await p.close();
    },
  };
  return self;
}
