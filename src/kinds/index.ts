// The table of upstream kinds: one line per kind. The config schema's enum, the health monitor, the merged model lists,
// the router, doctor, the dashboard's form and docs/broker.md's kinds table all read it; nothing else names a kind.
import type { Dialect, KindModule } from "./types.ts";
import { llamacpp } from "./llamacpp.ts";
import { lmstudio } from "./lmstudio.ts";
import { ollama } from "./ollama.ts";
import { openai } from "./openai.ts";
import { vllm } from "./vllm.ts";

export const KINDS = {
  ollama,
  openai,
  llamacpp,
  vllm,
  lmstudio,
} as const satisfies Record<string, KindModule>;

/** An upstream's kind, as the config names it. */
export type KindName = keyof typeof KINDS;

/** Every kind, in the table's order (the first is the default). */
export const KIND_NAMES = Object.keys(KINDS) as [KindName, ...KindName[]];

export const DEFAULT_KIND: KindName = KIND_NAMES[0];

export function isKindName(s: unknown): s is KindName {
  return typeof s === "string" && Object.hasOwn(KINDS, s);
}

/** The module of a kind. */
export function kindOf(kind: KindName): KindModule {
  return KINDS[kind];
}

/**
 * Whether servers of this kind speak `dialect` themselves (pass-through), rather than needing translation; `version`:
 * the upstream's, where the kind speaks it only since a release (Ollama's Anthropic Messages since 0.14).
 */
export function servesNatively(kind: KindName, dialect: Dialect, version: string | null = null): boolean {
  const d = KINDS[kind].dialects[dialect];
  return d === true || (d !== undefined && (version === null || !olderThan(version, d.since)));
}

/** Answers of olderThan by `since` and version: an upstream's version changes rarely, and a request only looks it up. */
const ORDER = new Map<string, Map<string, boolean>>();

/** Whether release `v` comes before `since` ("0.13.5" before "0.14.0"; a pre-release's numbers as its release's). */
export function olderThan(v: string, since: string): boolean {
  let bySince = ORDER.get(since);
  if (bySince === undefined) ORDER.set(since, (bySince = new Map()));
  let older = bySince.get(v);
  if (older === undefined) {
    // Bounded: a server that reports ever-new versions does not grow it without end.
    if (bySince.size >= 64) bySince.clear();
    bySince.set(v, (older = compareOlder(v, since)));
  }
  return older;
}

function compareOlder(v: string, since: string): boolean {
  const a = numbers(v);
  const b = numbers(since);
  if (a === null || b === null) return false;
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
}

/** The dotted numbers a version starts with ("v0.14.0-rc1": [0, 14, 0]), or null when it has none (a build that does not say). */
function numbers(v: string): number[] | null {
  const m = /^v?(\d+(?:\.\d+)*)/.exec(v);
  return m ? m[1]!.split(".").map(Number) : null;
}

export type { Capacity, Dialect, KindModule, ListSource, ModelCapability, ModelFacts, OutputField, Read, Reading, SamplerOption, ShowRead, ThinkingFields } from "./types.ts";
