// The checks `doctor` runs: each says ok, warn or fail with a one-line fix; "fail" is reserved for what the program needs.
import { kindOf } from "../kinds/index.ts";
import { resolved } from "../config/resolve.ts";
import { existsSync } from "node:fs";
import { formatIssue, parseConfig, defaultConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import type { TunnelStatus } from "../core/contracts.ts";
import { autostartEntryInUse, UNIT, unitState, type UnitState } from "../desktop/systemd-user.ts";
import { daemonLogFile } from "../config/paths.ts";
import { baseUrlOf } from "../core/listen-url.ts";
import { shellWord } from "../core/shell-word.ts";
import { runtimeDirHint } from "../desktop/runtime-dir-hint.ts";
import { sessionBusAddress } from "../desktop/dbus-address.ts";
import { redactUrl } from "../net/redact-url.ts";
import { explained, netErrorWords } from "../net/net-error-words.ts";
import { upstreamRequestUrl } from "../net/upstream-url.ts";
import { CaFileError, trustWithCaFile } from "../net/ca-trust.ts";
import { isInlineSecret, secretSetAdvice } from "../config/inline-secrets.ts";
import { cleartextSecretWarning, upstreamAuthValue } from "../config/upstream-auth.ts";
import { checkDaemon } from "./doctor-daemon.ts";
import { runningDaemonSettings } from "../client/settings.ts";
import { ApiClient } from "../client/api-client.ts";
import { EXIT_FAILURE, EXIT_USAGE } from "../core/error-codes.ts";
import { noModelFix } from "./doctor-models.ts";
import { upstreamTls } from "../config/upstream-tls.ts";
import { brokerHostFix, movedFix, ollamaElsewhere } from "./doctor-ollama-host.ts";
import { checkDirectories, checkUser, readConfigText } from "./doctor-files.ts";
import { checkInstalledCopies } from "./doctor-copies.ts";
import { tokenFile } from "../api/token.ts";
import type { CheckResult } from "./doctor-result.ts";
export type { CheckLevel, CheckResult } from "./doctor-result.ts";


export interface DoctorContext {
  file: string;
  env: NodeJS.ProcessEnv;
}

const ok = (name: string, detail: string): CheckResult => ({ name, level: "ok", detail });
const warn = (name: string, detail: string, fix: string): CheckResult => ({ name, level: "warn", detail, fix });
const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, level: "fail", detail, fix });

export function checkConfig(file: string): { result: CheckResult; config: Config } {
  const read = readConfigText(file);
  if ("result" in read) return { result: read.result, config: defaultConfig() };
  if (read.text === null) return { result: ok("Config", `${file} does not exist yet; the defaults apply (serve writes it on first run)`), config: defaultConfig() };
  const r = parseConfig(read.text, file);
  if (!r.ok)
    return {
      // The file checked is named: `config validate` alone would check the default file, not the one given by --config.
      result: fail("Config", r.issues.map(formatIssue).join("; "), `fix the file at the place shown, then run \`cloudtolocalllm-tunnel config validate ${shellWord(file)}\``),
      config: defaultConfig(),
    };
  return { result: ok("Config", `${file} is valid`), config: r.config };
}

/**
 * `ca`: the setting that adds trust where the probe went (the relay's [tunnel] ca_file, or an upstream's own); null when
 * it is set already (naming it again would send the user in a circle: the caller says what was trusted instead).
 */
export function reason(e: unknown, ca: string | null = "[tunnel] ca_file"): string {
  const err = e as { code?: string; message?: string; name?: string };
  if (err?.name === "TimeoutError") return "no answer in time";
  // Said in a diagnosis: what failed and why (net-error-words.ts), and for a certificate, the setting that trusts it.
  const words = netErrorWords(err?.code);
  if (words) return words.untrusted ? (ca ? `${words.what} (${words.why}; set ${ca})` : `${words.what} (${words.why})`) : explained(words);
  const message = (err?.message ?? String(e)).replace(/\.$/, "");
  // Bun's message often starts with the code already ("ENETUNREACH: …"): said once.
  return err?.code && !message.startsWith(err.code) ? `${err.code}: ${message}` : message;
}

async function probe(url: string, timeoutMs: number, init: RequestInit & { tls?: unknown } = {}, ca?: string | null): Promise<{ status: number } | { error: string }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    await res.body?.cancel();
    return { status: res.status };
  } catch (e) {
    return { error: reason(e, ca) };
  }
}

/** Each upstream's auth_secret as the daemon would read it (store, environment override, or the value pasted in); null when none. */
async function upstreamSecrets(ups: Config["upstreams"], config: Config, env: NodeJS.ProcessEnv): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  if (!ups.some((u) => u.auth_secret)) return out;
  const { openSecretStore } = await import("../secrets/open-secret-store.ts");
  const store = await openSecretStore(config, { env, callTimeoutMs: 2000 }).catch(() => null);
  // A key pasted into the field is used as it is, even when no store opens (as the daemon's store does).
  for (const u of ups) if (u.auth_secret) out.set(u.name, isInlineSecret(u.auth_secret) ? u.auth_secret : ((await store?.get(u.auth_secret).catch(() => null)) ?? null));
  await store?.close().catch(() => {});
  return out;
}

/** Why an upstream refused doctor's probe, and what to do, given what the probe sent. */
function refused(u: Config["upstreams"][number], shown: string, status: number, sent: boolean): CheckResult {
  const name = `Upstream "${u.name}"`;
  if (!u.auth_secret) return warn(name, `${shown} answers but refuses access (HTTP ${status})`, `store its key: \`cloudtolocalllm-tunnel secret set NAME\` and set auth_secret = "NAME"`);
  const advice = secretSetAdvice(u.auth_secret, "auth_secret", `upstream-${u.name}`);
  if (!sent) return warn(name, `${shown} answers but refuses access (HTTP ${status}); its auth secret "${u.auth_secret}" is not stored`, `store its key: ${advice}`);
  // A key pasted into auth_secret is never quoted (doctor's output is shown, pasted and logged).
  const which = isInlineSecret(u.auth_secret) ? "auth_secret" : `auth_secret "${u.auth_secret}"`;
  return warn(name, `${shown} refuses the key in ${which} (HTTP ${status})`, `store the key it expects: ${advice}`);
}

export async function checkUpstreams(config: Config, env: NodeJS.ProcessEnv = process.env, file = "the config file"): Promise<CheckResult[]> {
  const ups = config.upstreams.filter((u) => u.enabled);
  // A disabled upstream gets no call from doctor either (as from the daemon): it is named, not probed.
  const disabled = config.upstreams.filter((u) => !u.enabled).map((u) => ok(`Upstream "${u.name}"`, "disabled (enabled = false): not checked"));
  if (ups.length === 0) return [fail("Upstreams", "no enabled upstream in [[upstreams]]", "add an [[upstreams]] entry with the url of Ollama, e.g. http://127.0.0.1:11434"), ...disabled];
  const timeout = resolved(config).health.timeout;
  // The daemon sends each upstream its auth_secret: a probe without it would call a server that needs a key "refusing".
  const secrets = await upstreamSecrets(ups, config, env);
  const results = await Promise.all(
    ups.map(async (u) => {
      // The first of the kind's probe reads (src/kinds/): Ollama's /api/version, llama.cpp's /health, /v1/models, …
      const path = kindOf(u.kind).reads.find((r) => r.required)!.path;
      const secret = secrets.get(u.name) ?? null;
      const headers: Record<string, string> = secret ? { [u.auth_header]: upstreamAuthValue(u, secret) } : {};
      const shown = redactUrl(u.url);
      // The daemon's own trust for it (ca_file, tls_insecure), never NODE_TLS_REJECT_UNAUTHORIZED (src/broker/upstream-tls.ts).
      const { tls, error: tlsError } = upstreamTls(u, env);
      if (tlsError) return { up: false, fix: `point the ca_file of upstream "${u.name}" at a readable PEM file (its CA, or its self-signed certificate)`, result: { name: `Upstream "${u.name}"`, detail: `${shown}: ${tlsError}` } };
      const r = await probe(upstreamRequestUrl(u.url, path), timeout, { headers, tls }, `ca_file on upstream "${u.name}"`);
      // What to do when it does not answer: the kind's own advice (how to start that server), else the generic one.
      const fix = kindOf(u.kind).refusedHint ?? `start the server of upstream "${u.name}" or correct its url in [[upstreams]]`;
      if ("error" in r) {
        // Ollama moved (OLLAMA_HOST) is running: starting it again would fail on its port; the url is what is wrong.
        const movable = kindOf(u.kind).hostEnv === "OLLAMA_HOST";
        const at = movable ? await ollamaElsewhere(u.url, env, config.proxy.listen, timeout) : null;
        const atBroker = movable ? brokerHostFix(u.url, env, config.proxy.listen) : null;
        return { up: false, fix: at ? movedFix(at, u.name, file) : (atBroker ?? fix), result: { name: `Upstream "${u.name}"`, detail: `${shown}: ${r.error}` } };
      }
      if (r.status === 401 || r.status === 403) return { up: true, fix, result: refused(u, shown, r.status, secret !== null) };
      if (r.status >= 500) return { up: false, fix, result: { name: `Upstream "${u.name}"`, detail: `${shown} answers HTTP ${r.status}` } };
      // The daemon follows no redirect from an upstream (its health check fails on one): neither does doctor call it reachable.
      if (r.status >= 300 && r.status < 400)
        return { up: false, fix: `correct the url of upstream "${u.name}" in [[upstreams]] to the server itself (the daemon follows no redirect)`, result: { name: `Upstream "${u.name}"`, detail: `${shown} answers ${path} with a redirect (HTTP ${r.status}), which the daemon does not follow` } };
      // Any other answer but 2xx fails the daemon's health check too ("/health answered 404": down): not reachable here either.
      if (r.status < 200 || r.status >= 300)
        return { up: false, fix: `check the url and kind of upstream "${u.name}": a ${u.kind} server answers ${path}; another server, or a path in its url, answers HTTP ${r.status} there`, result: { name: `Upstream "${u.name}"`, detail: `${shown} answers ${path} with HTTP ${r.status}, so the daemon counts it down` } };
      const first = await noModelFix(u, headers, timeout, tls);
      if (first) return { up: true, fix, result: warn(`Upstream "${u.name}"`, `${shown} is reachable, but has no model: apps' requests get "model not found"`, first) };
      return { up: true, fix, result: ok(`Upstream "${u.name}"`, `${shown} is reachable (HTTP ${r.status})`) };
    }),
  );
  const anyUp = results.some((r) => r.up);
  // One unreachable upstream among working ones is a warning; none reachable means the broker cannot serve anything.
  const checks = results.map((r) => ("level" in r.result ? (r.result as CheckResult) : anyUp ? warn(r.result.name, r.result.detail, r.fix) : fail(r.result.name, r.result.detail, r.fix)));
  // The daemon's start-up warning, shown here too: a key sent in cleartext to another machine (reachable or not).
  for (const u of ups) {
    const cleartext = cleartextSecretWarning(u);
    if (cleartext) checks.push(warn(`Upstream "${u.name}" credential`, cleartext, `set url = "https://…" for upstream "${u.name}" (its server must serve TLS), or reach it through an SSH tunnel or a VPN`));
  }
  return [...checks, ...disabled];
}

/** Where each protocol's server says it is alive: the 1.x cloud (bridge-v1) has GET /health, not /healthz. */
const RELAY_HEALTH_PATH: Record<Config["tunnel"]["protocol"], string> = { v2: "/healthz", "bridge-v1": "/health" };

/** `file`: the config file `config` was read from, whose running daemon is asked for the tunnel's state. */
export async function checkRelay(config: Config, file?: string): Promise<CheckResult | null> {
  const t = config.tunnel;
  if (!t.enabled) return null;
  if (!t.relay_url) return fail("Relay", "the tunnel is enabled but [tunnel] relay_url is empty", "set relay_url, e.g. wss://relay.example.com/agent, or enabled = false");
  let url: URL;
  try {
    url = new URL(t.relay_url);
  } catch {
    return fail("Relay", `relay_url "${t.relay_url}" is not a URL`, "set relay_url to a ws:// or wss:// URL");
  }
  const health = RELAY_HEALTH_PATH[t.protocol];
  const http = `${url.protocol === "wss:" ? "https:" : url.protocol === "ws:" ? "http:" : url.protocol}//${url.host}${health}`;
  let ca: string[] | undefined;
  try {
    // The tunnel's own trust: ca_file added to the system store and NODE_EXTRA_CA_CERTS (src/net/ca-trust.ts).
    ca = trustWithCaFile(t.ca_file);
  } catch (e) {
    if (e instanceof CaFileError) return fail("Relay", e.message, "point [tunnel] ca_file at a readable PEM file, or remove it");
    throw e;
  }
  // Verified whatever NODE_TLS_REJECT_UNAUTHORIZED says, as the tunnel's own connection is (src/tunnel/connector.ts).
  // With ca_file set, "set ca_file" would send the user in a circle: the hint below says what was trusted instead.
  const r = await probe(http, 5000, { tls: { rejectUnauthorized: true, ...(ca ? { ca } : {}) } }, t.ca_file ? null : undefined);
  if ("error" in r) {
    const error = r.error;
    const caHint = t.ca_file
      ? `the relay's certificate must be signed by the CA in [tunnel] ca_file (${t.ca_file}) or one in the system store (or NODE_EXTRA_CA_CERTS)`
      : "for a private CA set [tunnel] ca_file";
    return fail("Relay", `${url.host}: ${error}`, `check the network and relay_url; ${caHint}; \`cloudtolocalllm-tunnel status\` shows the tunnel's own last error`);
  }
  const reachable = `${url.host} is reachable (HTTP ${r.status} from ${health})`;
  // Reachable is not connected: the relay may refuse the token or have no agent endpoint at relay_url's path. The
  // daemon's tunnel knows, and its GET /api/v1/tunnel is public.
  const tunnel = await daemonTunnel(config, file);
  if (!tunnel) return ok("Relay", `${reachable}; the daemon is not running, so the agent token was not tried`);
  const why = `${tunnel.state.replace("_", " ")}${tunnel.lastError ? `: ${tunnel.lastError}` : ""}`;
  if (tunnel.state === "connected") return ok("Relay", `${reachable}; the tunnel is connected${tunnel.cloudUrl ? `, cloud URL ${tunnel.cloudUrl}` : ""}`);
  if (tunnel.state === "stopped") return warn("Relay", `${reachable}; the tunnel is stopped`, "cloudtolocalllm-tunnel tunnel start");
  if (tunnel.state === "connecting" || (tunnel.state === "reconnecting" && !tunnel.lastError)) return ok("Relay", `${reachable}; the tunnel is connecting`);
  return fail("Relay", `${url.host} answers, but the tunnel is ${why}`, tunnel.fix ?? "check relay_url and the network; `cloudtolocalllm-tunnel status` shows the tunnel's state");
}

/**
 * The running daemon's tunnel state, or null when no daemon answers. Asked where the Daemon line finds it (the address
 * the daemon recorded for `file`): [api] listen may be a random port, or name an address the daemon refused to move to.
 */
async function daemonTunnel(config: Config, file?: string): Promise<TunnelStatus | null> {
  try {
    const base = file ? runningDaemonSettings(file).base : baseUrlOf(config.api.listen);
    if (!base) return null;
    return (await new ApiClient({ base, timeoutMs: 2000 }).call("GET", "/api/v1/tunnel")) as TunnelStatus;
  } catch {
    return null;
  }
}

export async function checkDesktopBus(env: NodeJS.ProcessEnv, notificationsOn: boolean): Promise<CheckResult[]> {
  const { connectSessionBus } = await import("../desktop/session-bus.ts");
  const out: CheckResult[] = [];
  const address = sessionBusAddress(env);
  const notifySend = Bun.which("notify-send", { PATH: env.PATH ?? "" });
  // Why notify-send would fail now (it needs a bus with a notification server), or null when it can deliver.
  let cannotDeliver: string | null = "no session bus (DBUS_SESSION_BUS_ADDRESS unset)";
  if (!address) {
    out.push(warn("Session bus", "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist)", "run inside a desktop session (headless servers can ignore this: tray and notifications need a desktop)"));
  } else {
    let bus: Awaited<ReturnType<typeof connectSessionBus>> | null = null;
    try {
      bus = await connectSessionBus(address, 2000);
      out.push(ok("Session bus", address.split(",")[0]!));
      cannotDeliver = null;
      const d = bus;
      const has = async (n: string) => (await d.callBus("NameHasOwner", "s", [n])) as boolean;
      if (await has("org.kde.StatusNotifierWatcher")) out.push(ok("Tray host", "a StatusNotifierWatcher is running: the tray icon can show"));
      else
        out.push(
          warn("Tray host", "no StatusNotifierWatcher on the session bus: the tray icon has nowhere to show", "use a panel that hosts StatusNotifierItems (KDE, XFCE with the systray plugin, Waybar; on GNOME the AppIndicator extension)"),
        );
      if (notificationsOn) {
        const activatable = ((await d.callBus("ListActivatableNames")) as string[]).includes("org.freedesktop.Notifications");
        if (!(await has("org.freedesktop.Notifications")) && !activatable) {
          out.push(warn("Notification server", "nothing serves org.freedesktop.Notifications on the session bus", "run a notification daemon (your desktop's, or dunst / mako)"));
          cannotDeliver = "no notification server on the session bus";
        } else out.push(ok("Notification server", "org.freedesktop.Notifications is available"));
      }
    } catch (e) {
      out.push(warn("Session bus", `${address}: ${reason(e)}`, "check DBUS_SESSION_BUS_ADDRESS; log out and in again if the session bus died"));
      cannotDeliver = "the session bus does not answer";
    } finally {
      bus?.close();
    }
  }
  if (!notificationsOn) out.push(ok("notify-send", "desktop notifications are off in [alerts]"));
  else if (notifySend && cannotDeliver)
    out.push(warn("notify-send", `${notifySend} cannot deliver: ${cannotDeliver}`, "run the daemon inside your desktop session (where DBUS_SESSION_BUS_ADDRESS is set), or set [alerts] notifications = false"));
  else if (notifySend) out.push(ok("notify-send", notifySend));
  else out.push(warn("notify-send", "not found in PATH: alerts cannot show desktop notifications", "install libnotify-bin (Debian/Ubuntu) or libnotify (Arch), or set [alerts] notifications = false"));
  return out;
}

/** How a failed unit ended, in words: systemd's Result= and the daemon's exit code (docs/errors.md). */
const UNIT_RESULTS: Record<string, string> = {
  "start-limit-hit": "it failed too often in a row and systemd stopped restarting it (a plain `start` is refused until `reset-failed`)",
  watchdog: "it stopped answering systemd's watchdog",
  signal: "it was killed by a signal",
  "core-dump": "it crashed (core dump)",
  timeout: "it did not start or stop in time",
  "oom-kill": "the kernel killed it for want of memory",
};
const EXIT_MEANINGS: Record<number, string> = {
  [EXIT_USAGE]: "an invalid config file or argument; systemd does not restart it",
  [EXIT_FAILURE]: "a failure its log names",
};
function unitFailure(f: NonNullable<UnitState["failed"]>): string {
  if (UNIT_RESULTS[f.result]) return UNIT_RESULTS[f.result]!;
  return `the daemon exited with code ${f.status}${EXIT_MEANINGS[f.status] ? ` (${EXIT_MEANINGS[f.status]})` : ""}`;
}

/** `autostart`: the autostart entry a login runs (install and the packages put one there), which starts `serve` without systemd. */
export function checkSystemdUnit(u: UnitState = unitState(), autostart: string | null = autostartEntryInUse()): CheckResult {
  if (!u.available)
    return warn(
      "systemd user unit",
      `no systemd user manager (${u.detail.split("\n")[0]})`,
      runtimeDirHint() ?? (autostart ? `none needed at a desktop login: the autostart entry ${autostart} runs \`cloudtolocalllm-tunnel serve\` (nothing restarts it after a crash)` : "run `cloudtolocalllm-tunnel serve` from your session's autostart instead"),
    );
  if (u.masked) return warn("systemd user unit", `${UNIT} is masked: nothing starts the daemon, not systemd and not the autostart entry`, `systemctl --user unmask ${UNIT} && systemctl --user enable --now ${UNIT}`);
  if (!u.installed) return warn("systemd user unit", `${UNIT} is not installed`, "cloudtolocalllm-tunnel install");
  if (!u.enabled) return warn("systemd user unit", `${UNIT} is installed but not enabled (${u.detail})`, `systemctl --user enable --now ${UNIT}`);
  if (u.failed) return warn("systemd user unit", `${UNIT} failed: ${unitFailure(u.failed)}`, `\`journalctl --user -u ${UNIT} -p err -n 5\` shows why; fix that, then \`systemctl --user reset-failed ${UNIT} && systemctl --user start ${UNIT}\``);
  if (!u.active) return warn("systemd user unit", `${UNIT} is enabled but not running (${u.detail})`, `systemctl --user start ${UNIT}; journalctl --user -u ${UNIT} shows why it stopped`);
  return ok("systemd user unit", `${UNIT} is installed, enabled and active`);
}

export async function checkSecrets(config: Config, env: NodeJS.ProcessEnv): Promise<CheckResult> {
  const { openSecretStore } = await import("../secrets/open-secret-store.ts");
  try {
    const store = await openSecretStore(config, { env, callTimeoutMs: 2000 });
    const w = store.warning;
    await store.close();
    if (w) return warn("Secret store", w, "unlock or install a keyring (GNOME Keyring, KWallet, KeePassXC with Secret Service), or set [secrets] backend = \"file\" to accept the file");
    return ok("Secret store", store.backend === "file" ? "0600 file (as configured)" : "desktop keyring (Secret Service)");
  } catch (e) {
    return fail("Secret store", reason(e), "unlock or start the desktop keyring, or set [secrets] backend = \"auto\" to fall back to a 0600 file");
  }
}

/** Where the daemon's log is: the journal under the systemd unit, else its terminal, or the file the `tray` command's "Start daemon" writes. */
export function checkDaemonLog(u: UnitState): CheckResult {
  if (u.available && u.installed) return ok("Daemon log", `journalctl --user -u ${UNIT}`);
  const file = daemonLogFile();
  if (existsSync(file)) return ok("Daemon log", `${file} (written by the daemon the \`tray\` command started)`);
  // The daemon shows the tray icon itself: one started in a terminal (`npm start`, `serve`) logs there.
  return ok("Daemon log", `the terminal of \`serve\` (or \`npm start\`); a daemon the \`tray\` command's Start daemon runs writes ${file}`);
}

export async function runChecks(ctx: DoctorContext): Promise<CheckResult[]> {
  const { result, config } = checkConfig(ctx.file);
  // With a file that has errors, `config` is the defaults: their Ollama and no relay are not the user's setup, and a
  // running daemon keeps its last good config. Say they were not checked rather than judge the defaults.
  const usable = result.level !== "fail";
  const parallel = await Promise.all([
    checkDaemon(config, ctx.file, reason, usable),
    usable ? checkUpstreams(config, ctx.env, ctx.file) : [warn("Upstreams", "not checked: the config file has errors (the Config line), so its upstreams are not known", "fix the config file first")],
    usable ? checkRelay(config, ctx.file) : null,
    checkDesktopBus(ctx.env, config.alerts.enabled && config.alerts.notifications),
    checkSecrets(config, ctx.env),
  ]);
  const unit = unitState();
  const user = checkUser(ctx.env);
  const copies = checkInstalledCopies();
  return [...(user ? [user] : []), result, ...checkDirectories(ctx.file, tokenFile(config)), ...parallel[0], ...parallel[1], ...(parallel[2] ? [parallel[2]] : []), ...parallel[3], checkSystemdUnit(unit), ...(copies ? [copies] : []), checkDaemonLog(unit), parallel[4]];
}
