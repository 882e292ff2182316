// Gateway keys as data: the key format (c2l_…), its sha256 fingerprint, the record kept for it, and model allowlists.
import type { KeyInfo, KeyLimits, KeyRecord } from "../core/contracts.ts";
import { KEY_NAME, KEY_PREFIX } from "../core/key-format.ts";

// The shapes are shared with the API and the dashboard, so they are defined with the other contracts.
export { KEY_NAME, KEY_PREFIX } from "../core/key-format.ts";
export type { KeyInfo, KeyRecord, KeyLimits } from "../core/contracts.ts";

export function newKey(): string {
  return KEY_PREFIX + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

export function keyHash(key: string): string {
  // Bun's native hasher, not node:crypto: that module (and node:stream under it) would cost an idle daemon MiBs.
  return new Bun.CryptoHasher("sha256").update(key).digest("hex");
}

/** Throws a one-sentence error naming what is wrong with a key name. */
export function checkKeyName(name: string): string {
  if (!KEY_NAME.test(name)) throw new Error(`"${name}" is not a valid key name: use letters, digits, ".", "_" and "-" (at most 64 characters, starting with a letter or digit).`);
  return name;
}

/** A new key and its record; the key itself is returned once and never stored. */
export function createKey(name: string, limits: KeyLimits, now = new Date()): { key: string; record: KeyRecord } {
  checkKeyName(name);
  for (const g of limits.models) if (!g.trim()) throw new Error("a model pattern is empty");
  const key = newKey();
  return {
    key,
    record: {
      name,
      prefix: key.slice(0, 8),
      hash: keyHash(key),
      models: limits.models.map((m) => m.trim()),
      rpm: limits.rpm,
      tokens_per_day: limits.tokens_per_day,
      max_parallel: limits.max_parallel,
      allow_model_management: limits.allow_model_management === true,
      expires_at: limits.expiresInMs === null ? null : new Date(now.getTime() + limits.expiresInMs).toISOString(),
      created_at: now.toISOString(),
    },
  };
}

export function keyInfo(r: KeyRecord): KeyInfo {
  const { hash: _hash, ...info } = r;
  return info;
}

export function expired(r: KeyRecord, now: number): boolean {
  return r.expires_at !== null && Date.parse(r.expires_at) <= now;
}

const globCache = new Map<string, RegExp>();
/** A model glob as a regex: `*` and `?` stay within one part of a name, never across "/" (host/namespace/model). */
function globRegex(glob: string): RegExp {
  let re = globCache.get(glob);
  if (!re) {
    re = new RegExp("^" + glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]") + "$", "i");
    globCache.set(glob, re);
  }
  return re;
}

/** Ollama's default host and namespace: "registry.ollama.ai/library/llama3.2" is the model "llama3.2". */
const DEFAULT_NAMESPACE = "registry.ollama.ai/library/";

/**
 * Whether a key may use `model`: an empty list allows every model; a pattern matches the name as sent and with
 * Ollama's implicit ":latest" tag ("llama3.2" is "llama3.2:latest"), so either spelling in the pattern works, and a
 * name under Ollama's default namespace by its short name. A `*` never spans a "/": "llama3*" is not
 * "llama3.evil.example/x/qwen" (another host's model) nor "llama3/qwen" (another namespace's).
 */
export function modelAllowed(patterns: readonly string[], model: string | null): boolean {
  if (!patterns.length) return true;
  if (model === null) return false;
  if (spellingAllowed(patterns, model)) return true;
  const long = model.length > DEFAULT_NAMESPACE.length && model.slice(0, DEFAULT_NAMESPACE.length).toLowerCase() === DEFAULT_NAMESPACE;
  return long && spellingAllowed(patterns, model.slice(DEFAULT_NAMESPACE.length));
}

/** Whether a pattern matches `name` as written or with its implicit ":latest" added or taken away. */
function spellingAllowed(patterns: readonly string[], name: string): boolean {
  const other = name.includes(":") ? (name.endsWith(":latest") ? name.slice(0, -7) : null) : `${name}:latest`;
  for (const p of patterns) {
    const re = globRegex(p);
    if (re.test(name) || (other !== null && re.test(other))) return true;
  }
  return false;
}

const EXPIRY_UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The longest lifetime: beyond some 275,000 years a date cannot be written at all (an "Invalid Date" 500 before). */
const MAX_EXPIRY_WEEKS = 5200;

/** "90m", "12h", "30d", "2w" → milliseconds; the one-sentence error names the value, as `what` (the flag, or the API's field). */
export function parseExpiry(text: string, what = "--expires"): number {
  const m = /^([1-9][0-9]*)(m|h|d|w)$/.exec(text.trim());
  if (!m) throw new Error(`${what} "${text}" is not a duration: use minutes, hours, days or weeks, e.g. 90m, 12h, 30d, 2w`);
  const ms = Number(m[1]) * EXPIRY_UNIT_MS[m[2]!]!;
  if (ms > MAX_EXPIRY_WEEKS * EXPIRY_UNIT_MS.w!) throw new Error(`${what} "${text}" is longer than 100 years: use at most ${MAX_EXPIRY_WEEKS}w, or none for a key that never expires`);
  return ms;
}
