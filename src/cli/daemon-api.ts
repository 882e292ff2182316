// How CLI commands reach the running daemon: where it says it listens (its listen record), else the address from
// `[api] listen` (or --url), checked to be the daemon of this config file; the token file, and the one API client whose
// errors become one sentence each (CliError).
import { configPath } from "../config/paths.ts";
import { ApiClient, ApiError } from "../client/api-client.ts";
import { readClientSettings, refuseForeignListener, runningDaemonSettings, tokenReader } from "../client/settings.ts";
import { closeSync, openSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { canonicalConfig } from "../api/listen-record.ts";
import { CliError, unreadableFile } from "./args.ts";
import { UNIT } from "../desktop/systemd-user.ts";
import { loopbackListenerUids } from "../net/listener-owner.ts";
import { isLoopbackHost } from "../net/host.ts";
import { describeFetchError } from "../net/fetch-error.ts";

export const API_OPTIONS = {
  config: { type: "string", short: "c" },
  url: { type: "string" },
} as const;

export const API_HELP = `  -c, --config FILE   config file that names the API address and token file
  --url URL           control API base URL (default: where the running daemon listens, else [api] listen,
                      refused when the daemon there serves another config file; or $CLOUDTOLOCALLLM_API_URL)`;

export interface DaemonApi {
  client: ApiClient;
  base: string;
  tokenFile: string;
  /**
   * The config file (absolute) the daemon at `base` must serve, when `base` is only `[api] listen`'s: another config's
   * daemon of this user may hold that port (both defaults are 127.0.0.1:8765), and it reads the same default token file.
   * Null when its listen record or --url said where to go.
   */
  expectConfig: string | null;
  /** The check of `expectConfig`, made once before the first call. */
  checked?: Promise<void>;
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
  return {
    client: new ApiClient({ base, token: tokenReader(settings, base), timeoutMs: 30_000 }),
    base,
    tokenFile: settings.tokenFile,
    expectConfig: explicit || settings.recorded ? null : resolve(file),
  };
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

/** The sentence for a daemon of another user (root's, after `sudo … serve`) at `base`: no token or config of ours fits it. */
const othersDaemon = (base: string, uid: number, cause?: unknown) =>
  new CliError(`${whoseDaemon(base, uid)}; stop it and start it as yourself: \`cloudtolocalllm-tunnel serve\` (or \`systemctl --user start ${UNIT}\`).`, "daemon_unauthorized", { cause });

/** The CLI's sentence for a failed call: how to start the daemon, which token file was refused. */
export function cliError(api: DaemonApi, e: unknown): Error {
  if (!(e instanceof ApiError)) return e as Error;
  if (e.unreachable)
    return new CliError(
      // In words (Bun's own, "Unable to connect. Is the computer able to access the url?", sends a user to the network).
      `cannot reach the daemon at ${api.base} (${e.cause ? describeFetchError(e.cause) : "no answer"}); is it running? Start it with \`cloudtolocalllm-tunnel serve\`.`,
      "daemon_unreachable",
      { cause: e },
    );
  // Nothing was sent: the sentence says who holds the address instead.
  if (e.code === "foreign_listener") return new CliError(e.message, "failed", { cause: e });
  // A daemon of another user (root's, after `sudo … serve`) checks that user's token: no token file of ours can fix that.
  const other = e.status === 401 ? otherUsersDaemon(api.base) : null;
  if (other !== null) return othersDaemon(api.base, other, e);
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

/** Whether two names of config files are one file (the same inode when both exist; else the same path, links followed). */
function sameConfigFile(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return canonicalConfig(a) === canonicalConfig(b);
  }
}

/**
 * Throws a CliError (`daemon_other_config`) unless the daemon at `api.base` serves `api.expectConfig`, from the config
 * path its public status reports. Asked without the token: what answers is not known to be this config's daemon yet.
 * A relative path in the status (an older daemon's `serve --config x.toml`; this release reports it absolute) is read from this command's directory.
 */
export function ensureSameConfig(api: DaemonApi): Promise<void> {
  const expected = api.expectConfig;
  if (!expected) return Promise.resolve();
  api.checked ??= (async () => {
    // Another user's program there gets the sentence naming its uid, as a call with the token would.
    refuseForeignListener(api.base, api.tokenFile);
    const status = await new ApiClient({ base: api.base, timeoutMs: 30_000 }).call("GET", "/api/v1/status");
    const served = (status as { daemon?: { configPath?: unknown } } | null)?.daemon?.configPath;
    if (typeof served !== "string")
      throw new CliError(
        `the program at ${api.base} does not say which config file it serves, so nothing was sent to it: is another program listening there? (\`ss -ltnp\` shows which); pass --url ${api.base} to use it anyway`,
        "daemon_other_config",
      );
    if (sameConfigFile(resolve(served), expected)) return;
    const other = otherUsersDaemon(api.base);
    if (other !== null) throw othersDaemon(api.base, other);
    throw new CliError(
      `the daemon at ${api.base} serves ${served}, not ${expected}; start one for this config (\`cloudtolocalllm-tunnel serve --config ${expected}\`, with an [api] listen port of its own) or pass --url ${api.base} to use that one`,
      "daemon_other_config",
    );
  })();
  return api.checked;
}

/** Runs one or more calls on the daemon of this config (ensureSameConfig); a failure becomes the CLI's sentence for it. */
export async function withDaemon<T>(api: DaemonApi, fn: (client: ApiClient) => Promise<T>): Promise<T> {
  try {
    await ensureSameConfig(api);
    return await fn(api.client);
  } catch (e) {
    throw cliError(api, e);
  }
}
