// Starts a real daemon process (from source, or the compiled binary) in a temporary HOME and finds its listeners.
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawnLogged, type LoggedProc } from "./process.ts";
import { RUNTIME_ENV } from "../../src/core/runtime-tuning.ts";
import { until } from "./until.ts";

export const REPO = resolve(import.meta.dir, "../..");
export const BUN = process.execPath;

export interface DaemonProc extends LoggedProc {
  home: string;
  env: Record<string, string>;
  configFile: string;
  /** Base URLs of the listeners, read from the "listening url=" log lines. */
  urls: Record<string, string>;
}

/** Config for a test daemon: API and broker on ephemeral loopback ports, secrets in the file store (no keyring lookup). */
export const TEST_DAEMON_TOML = `[api]
listen = "127.0.0.1:0"
[proxy]
listen = "127.0.0.1:0"
[secrets]
backend = "file"
`;

export function tempHome(prefix = "c2l-test-"): string {
  const home = mkdtempSync(join(tmpdir(), prefix));
  for (const d of [".config", ".local/state", ".local/share", "run"]) mkdirSync(join(home, d), { recursive: true });
  return home;
}

export function homeEnv(home: string): Record<string, string> {
  return {
    // As the systemd units and `npm start` run it (src/core/runtime-tuning.ts).
    ...RUNTIME_ENV,
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_STATE_HOME: join(home, ".local/state"),
    XDG_DATA_HOME: join(home, ".local/share"),
    XDG_RUNTIME_DIR: join(home, "run"),
  };
}

export interface StartOptions {
  /** TOML written to the config file before start; omit to let the daemon create its defaults. */
  config?: string;
  home?: string;
  env?: Record<string, string>;
  args?: string[];
  /** Run this executable instead of `bun src/main.ts` (e.g. dist/cloudtolocalllm-tunnel). */
  binary?: string;
  /** Bun's own options before the script (e.g. --cpu-prof-md for bench/profile.ts). */
  bunArgs?: string[];
  /** Component names whose "listening url=" line must appear before start() resolves. Default ["api"]. */
  waitFor?: string[];
  timeoutMs?: number;
}

export async function startDaemon(opts: StartOptions = {}): Promise<DaemonProc> {
  const home = opts.home ?? tempHome();
  const env = { ...homeEnv(home), ...opts.env };
  const configFile = join(home, ".config/cloudtolocalllm/tunnel.toml");
  if (opts.config !== undefined) {
    mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
    writeFileSync(configFile, opts.config, { mode: 0o600 });
  }
  const cmd = opts.binary ? [opts.binary, "serve", ...(opts.args ?? [])] : [BUN, ...(opts.bunArgs ?? []), join(REPO, "src/main.ts"), "serve", ...(opts.args ?? [])];
  const urls: Record<string, string> = {};
  const p = spawnLogged(cmd, {
    env,
    cwd: home,
    label: "daemon",
    debugEnv: "DEBUG_DAEMON",
    onText(text) {
      for (const line of text.split("\n")) {
        const m = /^(?:<\d>|\S+Z )?\w+ ([\w.-]+): .*listening.* url=(\S+)/.exec(line);
        if (m) urls[m[1]!] = m[2]!;
      }
    },
  });
  const d: DaemonProc = { ...p, home, env, configFile, urls };
  for (const name of opts.waitFor ?? ["api"]) await d.waitFor(new RegExp(`${name}: .*listening.* url=`), opts.timeoutMs ?? 20_000);
  return d;
}

/** The control API's token the daemon wrote in its home. */
export async function apiToken(d: { home: string }): Promise<string> {
  return (await Bun.file(join(d.home, ".config/cloudtolocalllm/api-token")).text()).trim();
}

/** A gateway key made with the CLI (`key create NAME FLAGS…`) in the daemon's home; throws with the CLI's words when it fails. */
export function createKey(d: { env: Record<string, string> }, name: string, ...flags: string[]): string {
  const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", "create", name, ...flags], { env: d.env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`key create ${name}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

export function removeHome(home: string): void {
  rmSync(home, { recursive: true, force: true });
}

/** Waits until the daemon's control API lists `n` upstreams, every one of them up (health checks passed). */
export async function untilUpstreamsUp(d: DaemonProc, token: string, n: number, timeoutMs = 10_000): Promise<void> {
  await until(async () => {
    const st = (await (await fetch(`${d.urls.api}/api/v1/upstreams`, { headers: { authorization: `Bearer ${token}` } })).json()) as { state: string }[];
    return st.length === n && st.every((u) => u.state === "up");
  }, timeoutMs, `${n} upstreams up`);
}

export interface UsageTotals {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
}

/** A key's usage totals today, from GET /api/v1/usage. */
export async function keyUsage(d: DaemonProc, token: string, key: string): Promise<UsageTotals> {
  const r = await fetch(`${d.urls.api}/api/v1/usage?key=${key}`, { headers: { authorization: `Bearer ${token}` } });
  return ((await r.json()) as { totals: UsageTotals }).totals;
}

/** Waits until the key's nth request is counted (an aborted stream is counted when the broker sees it end); its totals then. */
export async function untilCounted(d: DaemonProc, token: string, key: string, n: number): Promise<UsageTotals> {
  await until(async () => (await keyUsage(d, token, key)).requests >= n, 5000, `request ${n} of "${key}" to be counted`);
  return keyUsage(d, token, key);
}
