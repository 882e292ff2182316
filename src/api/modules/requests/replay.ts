// Replay of an inspected request: the same method, path, safe headers and captured body, sent again through the broker.
import type { DaemonContext } from "../../../core/component.ts";
import type { RequestRecord } from "../../../core/contracts.ts";
import { HttpError } from "../../../core/http-error.ts";
import { connectionNamed, HOP_BY_HOP } from "../../../net/hop-by-hop.ts";
import { HEADER_REDACTED } from "../../../net/captured-headers.ts";

/** Names the replay marks itself with: the new record's headers say which request it repeats. */
export const REPLAY_HEADER = "x-c2l-replay-of";

/** Never copied into a replay: framing the broker sets itself, and the client's connection's own headers. */
const NOT_REPLAYED = new Set<string>([...HOP_BY_HOP, "host", "content-length", "origin", "referer", "expect", REPLAY_HEADER]);

/**
 * Methods whose body the broker does not pass on (and a Request cannot carry): a DELETE's is read and forwarded (Ollama's
 * /api/delete names its model there), so it is replayed.
 */
const BODYLESS = new Set(["GET", "HEAD"]);

/** Why a record cannot be replayed, or null: a request with a body needs that body captured whole. */
export function replayProblem(r: RequestRecord): string | null {
  if (r.bytesIn === 0 && (BODYLESS.has(r.method) || r.requestBody === undefined)) return null;
  if (r.requestBody === undefined)
    return "its body was not kept: turn on [dashboard] capture_bodies (bodies are kept from then on) to replay requests with a body";
  if (r.requestBodyTruncated) return `only the first bytes of its body were kept (${r.bytesIn} bytes sent): raise [dashboard] body_cap above that to replay it`;
  return null;
}

/** The headers a replay sends: what the client sent minus credentials (redacted, never known here) and framing. */
export function replayHeaders(r: RequestRecord): Headers {
  const out = new Headers();
  const all = r.requestHeaders ?? {};
  // The headers the original's Connection named were hop-by-hop: the broker never passed them on, so neither does a replay
  // (without its Connection they would reach the upstream).
  const named = connectionNamed(all.connection);
  for (const [k, v] of Object.entries(all)) if (v !== HEADER_REDACTED && !NOT_REPLAYED.has(k) && !named.includes(k) && !v.endsWith("…")) out.set(k, v);
  if (r.requestBody !== undefined && !out.has("content-type")) out.set("content-type", "application/json");
  out.set(REPLAY_HEADER, r.id);
  return out;
}

/**
 * Sends the request again as a caller on this machine without a key (the owner asked, with the token or the dashboard
 * session and its CSRF token); the answer is read to its end so the new record is complete, then dropped.
 */
export async function replayRequest(ctx: DaemonContext, id: string): Promise<{ replayOf: string; status: number; bytes: number }> {
  const inspector = ctx.services.inspector;
  const broker = ctx.services.broker;
  if (!inspector || !broker) throw new HttpError("unavailable", "the request inspector or the broker is not running in this daemon");
  const r = inspector.get(id);
  if (!r) throw new HttpError("not_found", `no request "${id}" in the inspector (it keeps the last [dashboard] inspector_size requests)`);
  const problem = replayProblem(r);
  if (problem) throw new HttpError("conflict", `request "${id}" cannot be replayed: ${problem}`);
  const body = r.requestBody !== undefined && !BODYLESS.has(r.method) ? r.requestBody : undefined;
  const req = new Request(`http://127.0.0.1${r.path}`, { method: r.method, headers: replayHeaders(r), ...(body !== undefined ? { body } : {}) });
  const res = await broker.handle(req, "local", "127.0.0.1");
  const bytes = res.body ? (await res.arrayBuffer()).byteLength : 0;
  return { replayOf: id, status: res.status, bytes };
}
