// Picks the order in which upstreams are tried for one request: eligibility tiers, then the model already loaded
// (warm-first: no load time), then load (a free slot, else the shortest queue per slot, by what the server reports and
// our own requests in flight), then priority, then recent latency.
//
// Tiers, best first (disabled upstreams are never tried):
//   0  up or degraded, and serves the named model (or the request names none)
//   1  state unknown (not checked yet), and serves the model or has no list yet
//   2  up or degraded, but its model list does not name the model (lists can be stale; it answers 404 itself)
//   3  down (tried last: a health check may not have noticed a recovery yet)
//
// Not tried for a named model when the caller's key has a model list: an upstream whose list (known) does not name it
// and whose kind does not check the name (src/kinds/ checksModelName: llama.cpp with one model runs it whatever the
// request names): the model it would run is not one the list allowed. For other callers it stays where tier 2 puts it:
// a fallback the config chose (the README's llama.cpp "workstation"), tried once the upstreams that list the model fail.

// Load only orders upstreams that report it (src/kinds/: llama.cpp's slots, vLLM's queue, LM Studio's parallel); one
// that says nothing counts as having room, so priority still decides between it and a free one.
import type { Upstream } from "./upstream.ts";

/** Whether `u` would run another model than `model`: its list, known, does not name it, and it does not check names. */
export function runsOtherModel(u: Upstream, model: string | null): boolean {
  return model !== null && u.models.length > 0 && !u.module.checksModelName && !u.serves(model);
}

function tier(u: Upstream, model: string | null, strict: boolean): number {
  if (strict && runsOtherModel(u, model)) return NEVER;
  if (u.state === "down") return 3;
  const serves = model === null || u.serves(model);
  if (u.state === "unknown") return serves || u.models.length === 0 ? 1 : 2;
  return serves ? 0 : 2;
}

const NONE: readonly Upstream[] = [];
const NEVER = -1;

/**
 * The upstreams to try for a request naming `model` (null: none), in order. `keyList`: the caller's key has a model
 * list, so no upstream may run a model other than the one it names (see the top of this file).
 */
export function routeOrder(upstreams: Iterable<Upstream>, model: string | null, keyList = false): readonly Upstream[] {
  // The common setup, one upstream: nothing to order, and the table's own list is the order (no array per request).
  if (Array.isArray(upstreams) && upstreams.length === 1) {
    const u = upstreams[0] as Upstream;
    return u.enabled && !(keyList && runsOtherModel(u, model)) ? (upstreams as readonly Upstream[]) : NONE;
  }
  const strict = keyList;
  const list: { u: Upstream; t: number; p: number }[] = [];
  for (const u of upstreams) {
    if (!u.enabled) continue;
    const t = tier(u, model, strict);
    if (t !== NEVER) list.push({ u, t, p: u.pressure() });
  }
  list.sort(
    (a, b) =>
      a.t - b.t ||
      (model === null ? 0 : Number(b.u.warm(model)) - Number(a.u.warm(model))) ||
      a.p - b.p ||
      a.u.config.priority - b.u.config.priority ||
      (a.u.ewmaMs ?? Number.MAX_VALUE) - (b.u.ewmaMs ?? Number.MAX_VALUE) ||
      (a.u.name < b.u.name ? -1 : 1),
  );
  return list.map((x) => x.u);
}

/** FNV-1a over a string: a stable, cheap hash for rendezvous choice (not for security). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Sticky routing ([proxy] sticky): requests of one conversation (the same opening, `conversation`) go to the same
 * upstream among those that are up and serve the model, so its KV cache of that prefix is reused. Rendezvous hashing:
 * an upstream joining or leaving moves only the conversations that pick it. The rest of the order stays for failover.
 */
export function stickyFirst(order: readonly Upstream[], model: string | null, conversation: string): readonly Upstream[] {
  let best: Upstream | null = null;
  let bestScore = -1;
  for (const u of order) {
    if (!u.usable || (model !== null && !u.serves(model))) continue;
    const score = fnv1a(`${conversation}\u0000${u.name}`);
    if (score > bestScore) {
      best = u;
      bestScore = score;
    }
  }
  return best && order[0] !== best ? [best, ...order.filter((u) => u !== best)] : order;
}

/**
 * What identifies a conversation for sticky routing: its first two messages (system prompt and first user turn) or the
 * start of a prompt; null when the body has neither (nothing to keep together).
 */
export function conversationKey(json: unknown): string | null {
  if (!json || typeof json !== "object") return null;
  const j = json as { messages?: unknown; prompt?: unknown };
  if (Array.isArray(j.messages) && j.messages.length) return JSON.stringify(j.messages.slice(0, 2));
  if (typeof j.prompt === "string" && j.prompt) return j.prompt.slice(0, 512);
  return null;
}
