// [[upstreams]] keep_alive: the upstream's own setting put in the Ollama model requests sent to it, but for an explicit unload (a model-management right there).
import { HttpError } from "../core/http-error.ts";
import type { Admitted } from "../core/contracts.ts";
import { bodyObject, KEEP_ALIVE_PATHS, objectWithFields } from "./aliases.ts";
import { isZeroDuration } from "./dialects/ollama/to-chat-request.ts";
import { foldsTo } from "./json-top-level.ts";

/** Ollama reads keep_alive as a duration string or a number of seconds ("-1" forever, "0" unload at once). */
const keepAliveValue = (v: string): string | number => (/^-?\d+$/.test(v) ? Number(v) : v);

/** A top-level field as Go's encoding/json (Ollama) sets it: from the last key matching its name, exactly or without case, that is not null. */
function goField(obj: Record<string, unknown>, name: string): unknown {
  let v: unknown;
  for (const key of Object.keys(obj)) if ((key === name || foldsTo(key, name)) && obj[key] !== null) v = obj[key];
  return v;
}

/** What makes a request nothing but a load of its model, per route, as Ollama's handlers test it (server/routes.go: "expire the runner"). */
const NOTHING_TO_RUN: ReadonlyMap<string, (obj: Record<string, unknown>) => boolean> = new Map([
  ["/api/generate", (obj: Record<string, unknown>) => (goField(obj, "prompt") ?? "") === ""],
  ["/api/chat", (obj: Record<string, unknown>) => {
    const m = goField(obj, "messages");
    return m === undefined || (Array.isArray(m) && m.length === 0);
  }],
]);

/**
 * Whether this caller may unload a model the operator keeps loaded: a key needs allow_model_management, a call through
 * the tunnel `[tunnel] allow_model_management` (`tunnelManages`), as pull and delete do; a caller without a key (where
 * none is needed) may. `caller`: the exchange's caller class (the tunnel's even in a bare broker, without a gateway).
 */
export function unloadRefusal(admitted: Admitted | null, caller: string, tunnelManages: boolean, upstream: string): HttpError | null {
  const why = `an explicit unload (nothing to run, keep_alive 0) of a model on upstream "${upstream}", whose [[upstreams]] keep_alive says how long its models stay loaded, is model management`;
  const key = admitted?.key;
  if (key && key.allow_model_management !== true)
    return new HttpError("forbidden", `${why}: the API key "${key.name}" may not manage models; create a key with --allow-model-management for that`);
  if (caller === "tunnel" && !tunnelManages)
    return new HttpError("forbidden", `${why}, not allowed through the tunnel; set [tunnel] allow_model_management = true to allow it`);
  return null;
}

/**
 * The body sent to an upstream whose config sets keep_alive (`setting`, non-empty): the setting replaces the client's on
 * Ollama's model routes, since it is the operator's rule for how long a model stays loaded after the requests that run
 * it. An explicit unload (an empty prompt or messages with keep_alive 0: what `ollama stop` sends) runs nothing: it is
 * passed as it is, so the model is unloaded as asked, where the setting put in it would have loaded the model and kept
 * it for the operator's time (the opposite of what the client and the rule meant). It is null then: the caller decides
 * whether this caller may unload what the operator keeps (unloadRefusal). Any other route's body is as sent.
 */
export function withOperatorKeepAlive(body: Uint8Array, route: string, setting: string): Uint8Array | null {
  if (!KEEP_ALIVE_PATHS.has(route)) return body;
  const obj = bodyObject(body);
  if (obj === null) return body;
  const empty = NOTHING_TO_RUN.get(route);
  if (empty?.(obj) && isZeroDuration(goField(obj, "keep_alive"))) return null;
  return objectWithFields(obj, { keep_alive: keepAliveValue(setting) });
}
