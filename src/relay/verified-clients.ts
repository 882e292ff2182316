// The gateway keys a tunnel's agent has accepted, as seen from the answers it gave: the ones trusted to name a client
// for its share of the tunnel's requests per minute (client-rate.ts), as they already name it for its share of streams.
import { isKeyChar, KEY_PREFIX } from "../core/key-format.ts";

/** A gateway key's length: `c2l_` and 32 random bytes in base64url (src/gateway/keys.ts). */
const KEY_LENGTH = KEY_PREFIX.length + 43;

/**
 * Whether an `x-api-key` value is one whole gateway key, the only value that names a client. The broker checks every
 * `c2l_` token it finds, and answers a call with an unknown one 401; but a value that is not one token (`c2l_K.1`,
 * `c2l_K, x`: the broker reads K in each) or holds none (`xc2l_…`: a call through the tunnel needs no key under
 * require_key = "auto") is served as the key or as no key at all, so each spelling would be verified as a new client.
 */
export function isWholeKey(value: string): boolean {
  if (value.length !== KEY_LENGTH || !value.startsWith(KEY_PREFIX)) return false;
  for (let i = KEY_PREFIX.length; i < KEY_LENGTH; i++) if (!isKeyChar(value.charCodeAt(i))) return false;
  return true;
}

/** Keys remembered per tunnel at most: the oldest verified is forgotten first (it counts under its relay credential again). */
export const MAX_VERIFIED_PER_TUNNEL = 4096;
/**
 * Keys remembered in all, every tunnel's: with [oidc] a tunnel per signed-in user, and each user's own agent can answer
 * 2xx to keys it makes up, so the per-tunnel bound alone grows with the accounts. Past it, the tunnel that verified a new
 * key longest ago forgets its keys (as a restart would: their next calls count under the relay credential once more).
 */
export const MAX_VERIFIED = 65_536;

/**
 * A call is counted against the minute before the agent sees its gateway key, so a key is not trusted on its own say:
 * a made-up one per call would open a new share each time. Only once the agent has served a call with it (a 2xx: the
 * broker refuses an unknown `c2l_` key with 401, and the relay's own refusals are never 2xx) does it name the client;
 * until then, and again after a 401 (revoked, expired), its calls count under the relay credential they came with.
 */
export class VerifiedClients {
  /** In the order each tunnel last verified a new key (a tunnel is moved to the end then): the first is dropped first. */
  private readonly byTunnel = new Map<string, Set<string>>();
  /** Keys in all the sets. */
  private total = 0;

  constructor(
    private readonly max = MAX_VERIFIED_PER_TUNNEL,
    private readonly maxTotal = MAX_VERIFIED,
  ) {}

  /** Keys remembered, every tunnel's. */
  get size(): number {
    return this.total;
  }

  /** Whether the agent of `tunnel` has served a call with gateway key `key` (one Map and one Set lookup: the hot path). */
  has(tunnel: string, key: string): boolean {
    return this.byTunnel.get(tunnel)?.has(key) ?? false;
  }

  /** The agent of `tunnel` answered a call made with gateway key `key` with `status`. */
  note(tunnel: string, key: string, status: number): void {
    if (status === 401) {
      const set = this.byTunnel.get(tunnel);
      if (set?.delete(key)) {
        this.total--;
        if (!set.size) this.byTunnel.delete(tunnel);
      }
      return;
    }
    if (status < 200 || status > 299) return;
    let set = this.byTunnel.get(tunnel);
    // A key already known (nearly every call): nothing moves.
    if (set?.has(key)) return;
    if (set) this.byTunnel.delete(tunnel);
    else set = new Set();
    this.byTunnel.set(tunnel, set);
    // Bounded: a Set iterates in insertion order, so its first is the longest known.
    if (set.size >= this.max) {
      set.delete(set.values().next().value!);
      this.total--;
    }
    set.add(key);
    this.total++;
    // Bounded in all: the tunnels that verified a new key longest ago forget theirs (never the one noted now).
    for (const [t, s] of this.byTunnel) {
      if (this.total <= this.maxTotal || t === tunnel) break;
      this.byTunnel.delete(t);
      this.total -= s.size;
    }
  }
}
