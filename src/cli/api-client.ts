// How CLI commands talk to the running daemon's control API: address from `[api] listen` (or --url), token from the token file.
import { existsSync, readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { Value } from "@sinclair/typebox/value";
import { configPath } from "../config/paths.ts";
import { defaultConfig, parseConfig } from "../config/load.ts";
import { splitListen } from "../config/listen.ts";
import { baseUrlOf } from "../core/listen-url.ts";
import { ApiSchema, type Config } from "../config/schema.ts";
import { readApiToken, tokenFile } from "../api/token.ts";
import { CliError } from "./args.ts";

export const API_OPTIONS = {
  config: { type: "string", short: "c" },
  url: { type: "string" },
} as const;

export const API_HELP = `  -c, --config FILE   config file that names the API address and token file
  --url URL           control API base URL (default: from [api] listen, or $CLOUDTOLOCALLLM_API_URL)`;

export interface ApiTarget {
  base: string;
  token: string | null;
  tokenFile: string;
}

/** The `[api]` section even when the rest of the file is invalid: `reload` must still reach the daemon to report why. */
function apiSection(file: string): Pick<Config, "api"> {
  if (!existsSync(file)) return defaultConfig();
  const text = readFileSync(file, "utf8");
  const r = parseConfig(text, file);
  if (r.ok) return r.config;
  try {
    const raw = parseToml(text) as { api?: unknown };
    const api = Value.Default(ApiSchema, structuredClone(raw.api ?? {}));
    if (Value.Check(ApiSchema, api)) return { api };
  } catch {}
  return defaultConfig();
}

export function apiTarget(opts: { config?: string; url?: string }): ApiTarget {
  const config = apiSection(configPath(opts.config));
  const explicit = opts.url || process.env.CLOUDTOLOCALLLM_API_URL;
  let base: string;
  if (explicit) base = explicit.replace(/\/+$/, "");
  else {
    if (splitListen(config.api.listen).port === 0)
      throw new CliError(`[api] listen is "${config.api.listen}" (a random port): pass --url with the address from the daemon's log.`);
    base = baseUrlOf(config.api.listen);
  }
  return { base, token: readApiToken(config), tokenFile: tokenFile(config) };
}

export interface ApiReply<T = any> {
  status: number;
  body: T;
}

/** Calls the API. Connection failures and error replies become one sentence (CliError) unless `accept` lists the status. */
export async function apiCall<T = any>(target: ApiTarget, method: string, path: string, accept: number[] = []): Promise<ApiReply<T>> {
  let res: Response;
  try {
    res = await fetch(target.base + path, {
      method,
      headers: target.token ? { authorization: `Bearer ${target.token}` } : {},
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new CliError(`cannot reach the daemon at ${target.base} (${(e as Error).message}); is it running? Start it with \`cloudtolocalllm-tunnel serve\`.`);
  }
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  if (res.ok || accept.includes(res.status)) return { status: res.status, body };
  if (res.status === 401)
    throw new CliError(
      target.token
        ? `the daemon refused the API token in ${target.tokenFile} (${body?.error?.message ?? "unauthorized"}).`
        : `no API token in ${target.tokenFile}; the daemon creates it on start (is this the same user and config?).`,
    );
  throw new CliError(body?.error?.message ?? `the daemon answered ${res.status} ${res.statusText}`);
}
