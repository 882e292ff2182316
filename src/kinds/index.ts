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

/** Whether servers of this kind speak `dialect` themselves (pass-through), rather than needing translation. */
export function servesNatively(kind: KindName, dialect: Dialect): boolean {
  return KINDS[kind].dialects[dialect] === true;
}

export type { Capacity, Dialect, KindModule, ListSource, ModelCapability, ModelFacts, OutputField, Read, Reading, SamplerOption, ShowRead, ThinkingFields } from "./types.ts";
