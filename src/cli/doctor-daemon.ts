// doctor's checks of the daemon's own addresses: who answers at [api] listen, whether it takes the CLI's API token, and
// whether another program holds [proxy] listen (the daemon could not start there).
import { connect } from "node:net";
import type { Config } from "../config/schema.ts";
import { splitListen } from "../config/listen.ts";
import { baseUrlOf } from "../core/listen-url.ts";
import { ApiError } from "../client/api-client.ts";
import { UNIT } from "../desktop/systemd-user.ts";
import { daemonLogFile } from "../config/paths.ts";
import { existsSync } from "node:fs";
import { UsageError } from "./args.ts";
import { cliError, daemonApi, ensureSameConfig, otherUsersDaemon, whoseDaemon } from "./daemon-api.ts";
import type { CheckResult } from "./doctor-result.ts";

/** What answers GET /healthz at the API's address: the daemon, another program (its status), or nothing (why). */
type Answer = { daemon: true } | { daemon: false; status: number } | { error: string };

async function healthz(base: string, reason: (e: unknown) => string): Promise<Answer> {
  try {
    const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000), redirect: "manual" });
    const body = await res.text().catch(() => "");
    // The daemon's /healthz is public and always {"status":"ok"}: anything else is some other program on the port.
    return res.status === 200 && /"status"\s*:\s*"ok"/.test(body) ? { daemon: true } : { daemon: false, status: res.status };
  } catch (e) {
    return { error: reason(e) };
  }
}

/** Whether something accepts TCP connections at a listen address (reached as a client on this machine would). */
function held(listen: string): Promise<boolean> {
  const url = new URL(baseUrlOf(listen));
  return new Promise((resolve) => {
    const s = connect({ host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port) });
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(1000, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

const whoHolds = (listen: string) => `\`ss -ltnp 'sport = :${splitListen(listen).port}'\` shows which program`;
/** How to make the running daemon write or re-read its token file: a reload (SIGHUP) does both. */
const RELOAD = `\`systemctl --user reload ${UNIT}\` (or \`kill -HUP\` the daemon's pid): on a reload the daemon re-reads the token file, and writes a new one when there is none`;

/**
 * `proxyKnown`: whether `config` is the file's own. With errors in the file it is the defaults, and their [proxy] listen
 * (127.0.0.1:11435) is not the user's: another daemon holding it (one run with `npm start`, another user's) would be
 * reported as keeping this one from starting, at an address the file does not name.
 */
export async function checkDaemon(config: Config, file: string, reason: (e: unknown) => string, proxyKnown = true): Promise<CheckResult[]> {
  let api;
  try {
    // The address and token file as every other command reads them (even from a config with errors elsewhere).
    api = daemonApi({ config: file });
  } catch (e) {
    // An unreadable config file (the Config line says why) hides the address; a random port has no address to ask.
    if (e instanceof UsageError) return [{ name: "Daemon", level: "warn", detail: `not checked: ${e.message}`, fix: "make the config file readable first (the Config line)" }];
    return [{ name: "Daemon", level: "warn", detail: (e as Error).message, fix: "set a fixed port in [api] listen, e.g. 127.0.0.1:8765" }];
  }
  const listen = api.base === baseUrlOf(config.api.listen) ? config.api.listen : new URL(api.base).host;
  const a = await healthz(api.base, reason);
  if ("error" in a) {
    const log = existsSync(daemonLogFile()) ? `; why the last one the \`tray\` command started stopped: ${daemonLogFile()}` : "";
    const out: CheckResult[] = [
      { name: "Daemon", level: "warn", detail: `not reachable at ${api.base} (${a.error})`, fix: `systemctl --user start ${UNIT}  (or run \`cloudtolocalllm-tunnel serve\`)${log}` },
    ];
    // Starting it would fail at once while another program holds the broker's port: say so before the user tries.
    if (proxyKnown && config.proxy.enabled && (await held(config.proxy.listen)))
      out.push({
        name: "Broker port",
        level: "fail",
        detail: `${config.proxy.listen} ([proxy] listen) is held by another program: the daemon cannot start while it is`,
        fix: `stop that program (${whoHolds(config.proxy.listen)}), or set a free address in [proxy] listen in ${file}`,
      });
    return out;
  }
  if (!a.daemon)
    return [
      {
        name: "Daemon",
        level: "fail",
        detail: `another program answers at ${api.base} (HTTP ${a.status} to /healthz), not the daemon: the daemon cannot listen there while it does`,
        fix: `stop that program (${whoHolds(listen)}), or set a free address in [api] listen in ${file}`,
      },
    ];
  // It answers: is it this config's? Another config's daemon of this user may hold [api] listen (the commands refuse it).
  // Another user's (root's) has its own line below.
  try {
    if (otherUsersDaemon(api.base) === null) await ensureSameConfig(api);
  } catch (e) {
    return [{ name: "Daemon", level: "fail", detail: cliError(api, e).message, fix: `start a daemon for ${file} on an [api] listen port of its own, or stop that one` }];
  }
  // It answers: can the CLI's commands (reload, tunnel, key, …) use it? They need the token in the token file.
  try {
    // GET /api/v1/config needs the token (status and tunnel are public): the one the CLI's commands send.
    await api.client.send("GET", "/api/v1/config");
  } catch (e) {
    const unauthorized = e instanceof ApiError && e.status === 401;
    const other = unauthorized ? otherUsersDaemon(api.base) : null;
    if (other !== null)
      return [
        {
          name: "Daemon",
          level: "fail",
          detail: `${whoseDaemon(api.base, other)}: this user's commands cannot use it`,
          fix: `stop it (\`sudo ss -ltnp 'sport = :${new URL(api.base).port}'\` shows its pid), then start it as yourself: \`systemctl --user start ${UNIT}\` or \`cloudtolocalllm-tunnel serve\``,
        },
      ];
    const why = !unauthorized
      ? cliError(api, e).message.replace(/\.$/, "")
      : api.client.opts.token?.()
        ? `it refuses the API token in ${api.tokenFile} (the file changed since the daemon read it, or the daemon reads another)`
        : `there is no API token in ${api.tokenFile}`;
    return [
      {
        name: "Daemon",
        level: "fail",
        detail: `the control API answers at ${api.base}, but ${why}: the commands that need it (reload, tunnel, key, …) are refused`,
        fix: unauthorized ? RELOAD : "`cloudtolocalllm-tunnel status` says more",
      },
    ];
  }
  return [{ name: "Daemon", level: "ok", detail: `the control API answers at ${api.base} and takes the API token in ${api.tokenFile}` }];
}
