// How CLI commands reach the running daemon: where it says it listens (its listen record), else the address from
// `[api] listen` (or --url), the token file, and the one API client whose errors become one sentence each (CliError).
import { configPath } from "../config/paths.ts";
import { ApiClient, ApiError } from "../client/api-client.ts";
import { readClientSettings, runningDaemonSettings, tokenReader } from "../client/settings.ts";
import { closeSync, openSync, statSync } from "node:fs";
import { CliError, unreadableFile } from "./args.ts";
import { UNIT } from "../desktop/systemd-user.ts";
import { loopbackListenerUids } from "../net/listener-owner.ts";
import { isLoopbackHost } from "../net/host.ts";

export const API_OPTIONS = {
  config: { type: "string", short: "c" },
  url: { type: "string" },
} as const;

export const API_HELP = `  -c, --config FILE   config file that names the API address and token file
  --url URL           control API base URL (default: where the running daemon listens, else [api] listen;
                      or $CLOUDTOLOCALLLM_API_URL)`;

export interface DaemonApi {
  client: ApiClient;
  base: string;
  tokenFile: string;
}

/** The daemon's API for `--config`/`--url`; throws a CliError when the address cannot be known (a random port). */
export function daemonApi(opts: { config?: string; url?: string }): DaemonApi {
  const file = configPath(opts.config);
  const explicit = opts.url || process.env.CLOUDTOLOCALLLM_API_URL;
  // A file that exists but cannot be read would give the defaults' address: the daemon "not running" at 8765, when the
  // file names another. Say so instead (a missing file is fine: the defaults are what the daemon uses then too).
  if (!explicit) readableOrAbsent(file);
  // Without --url: where the running daemon says it listens (checked to be its socket), else [api] listen.
  const settings = explicit ? readClientSettings(file) : runningDaemonSettings(file);
  const base = explicit ? explicit.replace(/\/+$/, "") : settings.base;
  if (!base) throw new CliError(`[api] listen is "${settings.api.listen}" (a random port): pass --url with the address from the daemon's log.`);
  return { client: new ApiClient({ base, token: tokenReader(settings, base), timeoutMs: 30_000 }), base, tokenFile: settings.tokenFile };
}

function readableOrAbsent(file: string): void {
  try {
    closeSync(openSync(file, "r"));
    if (statSync(file).isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw unreadableFile(file, e);
  }
}

/** The uid of the daemon listening at a loopback `base` when it is not this user's (a daemon run with sudo), else null. */
export function otherUsersDaemon(base: string): number | null {
  const me = process.getuid?.();
  const url = new URL(base);
  const uids = me === undefined || me === 0 || !isLoopbackHost(url.hostname) ? null : loopbackListenerUids(Number(url.port));
  return uids && uids.length && !uids.includes(me!) ? uids[0]! : null;
}

/** "the daemon at BASE runs as root (started with sudo?), with that user's config and API token" */
export const whoseDaemon = (base: string, uid: number) =>
  `the daemon at ${base} runs as ${uid === 0 ? "root (started with sudo?)" : `another user (uid ${uid})`}, with that user's config and API token`;

/** The CLI's sentence for a failed call: how to start the daemon, which token file was refused. */
export function cliError(api: DaemonApi, e: unknown): Error {
  if (!(e instanceof ApiError)) return e as Error;
  if (e.unreachable)
    return new CliError(
      `cannot reach the daemon at ${api.base} (${(e.cause as Error | undefined)?.message ?? "no answer"}); is it running? Start it with \`cloudtolocalllm-tunnel serve\`.`,
      "daemon_unreachable",
      { cause: e },
    );
  // Nothing was sent: the sentence says who holds the address instead.
  if (e.code === "foreign_listener") return new CliError(e.message, "failed", { cause: e });
  // A daemon of another user (root's, after `sudo … serve`) checks that user's token: no token file of ours can fix that.
  const other = e.status === 401 ? otherUsersDaemon(api.base) : null;
  if (other !== null)
    return new CliError(`${whoseDaemon(api.base, other)}; stop it and start it as yourself: \`cloudtolocalllm-tunnel serve\` (or \`systemctl --user start ${UNIT}\`).`, "daemon_unauthorized", { cause: e });
  if (e.status === 401)
    return new CliError(
      api.client.opts.token?.()
        ? `the daemon refused the API token in ${api.tokenFile} (${e.message || "unauthorized"}).`
        : `no API token in ${api.tokenFile}; the daemon writes it on start and on a reload: \`systemctl --user reload ${UNIT}\` (or \`kill -HUP\` the daemon's pid; is it this user's, with this config?).`,
      "daemon_unauthorized",
      { cause: e },
    );
  // A route this command knows and the daemon does not: a daemon still running an older build (Arch upgrades restart nothing).
  if (e.status === 404 && e.code === "not_found" && e.message.startsWith("no route "))
    return new CliError(`the daemon at ${api.base} has ${e.message}: it runs another version than this command (not restarted after an upgrade?); restart it onto this one: \`systemctl --user restart ${UNIT}\``, "daemon_refused", { cause: e });
  // The daemon's errors carry their code; an answer without one came from another program holding the address.
  if (e.code === "unexpected_status")
    return new CliError(`${e.message.replace(/\.$/, "")}, without the daemon's error code: is another program listening at ${api.base}? (\`ss -ltnp\` shows which; the daemon's address is [api] listen)`, "daemon_refused", { cause: e });
  return new CliError(e.message, "daemon_refused", { cause: e });
}

/** Runs one or more calls; a failure becomes the CLI's sentence for it. */
export async function withDaemon<T>(api: DaemonApi, fn: (client: ApiClient) => Promise<T>): Promise<T> {
  try {
    return await fn(api.client);
  } catch (e) {
    throw cliError(api, e);
  }
}
