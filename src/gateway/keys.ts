// Gateway keys as data: the key format (c2l_…), its sha256 fingerprint, the record kept for it, and model allowlists.
import { createHash, randomBytes } from "node:crypto";
import { t, type Static } from "elysia";

export const KEY_PREFIX = "c2l_";
/** What a key name may be: the same rule as secret names, so it is safe in a URL path, a label and a log line. */
export const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** What is stored for a key: never the key, only its hash and the first characters that identify it to a person. */
export const KeyRecord = t.Object({
  name: t.String({ pattern: KEY_NAME.source, description: "The key's name (what `key show` and usage name it by).", examples: ["editor"] }),
  /** The key's first characters, shown so a person can tell keys apart; too short to use. */
  prefix: t.String({ description: "The key's first 8 characters (c2l_ and 4 more).", examples: ["c2l_Xy3k"] }),
  hash: t.String({ description: "sha256 of the key, hex." }),
  models: t.Array(t.String(), { description: "Model globs this key may use (e.g. llama3*, qwen2.5:*); empty = every model." }),
  rpm: t.Integer({ minimum: 0, description: "Requests per minute; 0 = no limit." }),
  tokens_per_day: t.Integer({ minimum: 0, description: "Prompt + completion tokens per UTC day; 0 = no limit." }),
  max_parallel: t.Integer({ minimum: 0, description: "Requests of this key at once; 0 = no limit." }),
  expires_at: t.Union([t.String(), t.Null()], { description: "ISO time the key stops working, or null." }),
  created_at: t.String(),
});
export type KeyRecord = Static<typeof KeyRecord>;

/** A key as the API, the CLI and the dashboard show it: everything but the hash. */
export const KeyInfo = t.Omit(KeyRecord, ["hash"]);
export type KeyInfo = Static<typeof KeyInfo>;

export interface KeyLimits {
  models: string[];
  rpm: number;
  tokens_per_day: number;
  max_parallel: number;
  /** Milliseconds from creation, or null for a key that does not expire. */
  expiresInMs: number | null;
}

export function newKey(): string {
  return KEY_PREFIX + randomBytes(32).toString("base64url");
}

export function keyHash(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
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
function globRegex(glob: string): RegExp {
  let re = globCache.get(glob);
  if (!re) {
    re = new RegExp("^" + glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$", "i");
    globCache.set(glob, re);
  }
  return re;
}

/**
 * Whether a key may use `model`: an empty list allows every model; a pattern matches the name as sent and with
 * Ollama's implicit ":latest" tag ("llama3.2" is "llama3.2:latest"), so either spelling in the pattern works.
 */
export function modelAllowed(patterns: readonly string[], model: string | null): boolean {
  if (!patterns.length) return true;
  if (model === null) return false;
  const names = model.includes(":") ? [model, model.endsWith(":latest") ? model.slice(0, -7) : model] : [model, `${model}:latest`];
  return patterns.some((p) => names.some((n) => globRegex(p).test(n)));
}

const EXPIRY_UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "90m", "12h", "30d", "2w" → milliseconds; the one-sentence error names the value. */
export function parseExpiry(text: string): number {
  const m = /^([1-9][0-9]*)(m|h|d|w)$/.exec(text.trim());
  if (!m) throw new Error(`--expires "${text}" is not a duration: use minutes, hours, days or weeks, e.g. 90m, 12h, 30d, 2w`);
  return Number(m[1]) * EXPIRY_UNIT_MS[m[2]!]!;
}
