// [[upstreams]] keep_alive: the upstream's own setting put in the Ollama model requests sent to it, but for an explicit unload.
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
 * The body sent to an upstream whose config sets keep_alive (`setting`, non-empty): the setting replaces the client's on
 * Ollama's model routes, since it is the operator's rule for how long a model stays loaded after the requests that run
 * it. An explicit unload (an empty prompt or messages with keep_alive 0: what `ollama stop` sends) runs nothing: it is
 * passed as it is, so the model is unloaded as asked, where the setting put in it would have loaded the model and kept
 * it for the operator's time (the opposite of what the client and the rule meant). Any other route's body is as sent.
 */
export function withOperatorKeepAlive(body: Uint8Array, route: string, setting: string): Uint8Array {
  if (!KEEP_ALIVE_PATHS.has(route)) return body;
  const obj = bodyObject(body);
  if (obj === null) return body;
  const empty = NOTHING_TO_RUN.get(route);
  if (empty?.(obj) && isZeroDuration(goField(obj, "keep_alive"))) return body;
  return objectWithFields(obj, { keep_alive: keepAliveValue(setting) });
}
