// Merges model lists from several upstreams (first listed wins a duplicate), in Ollama and OpenAI shapes, each upstream's
// list converted from the shape its kind serves.
import { ollamaNames } from "../kinds/types.ts";
import { listedName } from "../kinds/types.ts";

/** An Ollama /api/tags entry for a model that an OpenAI-compatible upstream lists only by id. */
export function tagFromId(id: string): Record<string, unknown> {
  return { name: id, model: id, modified_at: new Date(0).toISOString(), size: 0, digest: "", details: {} };
}

/** The merged listings: Ollama's /api/tags and /api/ps, OpenAI's /v1/models. */
export type Listing = "ollama-tags" | "ollama-ps" | "openai";

/** An Ollama /api/ps entry for a model a server lists by id and holds in memory (llama.cpp, vLLM). */
function psFromId(id: string): Record<string, unknown> {
  return { ...tagFromId(id), expires_at: new Date(0).toISOString(), size_vram: 0 };
}

/**
 * One upstream's list body, in the shape its kind serves it (src/kinds/: `listing`), → the body of `listing`. An
 * OpenAI-shaped list feeds /api/ps with the models it names as loaded (all of them, unless an entry has a
 * `status.value` other than "loaded", as llama.cpp's router mode gives).
 */
export function convertListing(body: any, shape: "ollama" | "openai", listing: Listing): Record<string, unknown> {
  if (shape === "ollama") {
    if (listing !== "openai") return body;
    return { object: "list", data: ollamaNames(body).map((id) => ({ id, object: "model", created: 0, owned_by: "library" })) };
  }
  if (listing === "openai") return body;
  const data: { id?: unknown; status?: { value?: unknown } }[] = Array.isArray(body?.data) ? body.data : [];
  const named = data.filter((m) => typeof m?.id === "string");
  if (listing === "ollama-tags") return { models: named.map((m) => tagFromId(m.id as string)) };
  return { models: named.filter((m) => !m.status || typeof m.status !== "object" || m.status.value === "loaded").map((m) => psFromId(m.id as string)) };
}

/** The name a duplicate is known by: "llama3" and "llama3:latest" are one model to Ollama, and to the router (upstream.ts serves). */
const sameModel = (name: string): string => (name.endsWith(":latest") ? name.slice(0, -7) : name);

/** Ollama /api/tags or /api/ps bodies → one { models } body, deduplicated by name (names listedName refuses left out). */
export function mergeOllamaModels(lists: { models?: unknown }[]): { models: Record<string, unknown>[] } {
  const seen = new Set<string>();
  const models: Record<string, unknown>[] = [];
  for (const l of lists) {
    if (!Array.isArray(l.models)) continue;
    for (const m of l.models as Record<string, unknown>[]) {
      const name = (m?.name ?? m?.model) as unknown;
      if (!listedName(name) || seen.has(sameModel(name))) continue;
      seen.add(sameModel(name));
      models.push(m);
    }
  }
  return { models };
}

/** OpenAI /v1/models bodies → one list body, deduplicated by id (ids listedName refuses left out). */
export function mergeOpenAiModels(lists: { data?: unknown }[]): { object: "list"; data: Record<string, unknown>[] } {
  const seen = new Set<string>();
  const data: Record<string, unknown>[] = [];
  for (const l of lists) {
    if (!Array.isArray(l.data)) continue;
    for (const m of l.data as Record<string, unknown>[]) {
      const id = m?.id;
      if (!listedName(id) || seen.has(sameModel(id))) continue;
      seen.add(sameModel(id));
      data.push(m);
    }
  }
  return { object: "list", data };
}

/** Which upstreams serve each model, and which of them have it loaded in memory now, for GET /api/v1/models and `models`. */
export function modelIndex(upstreams: { name: string; models: string[]; warm?(model: string): boolean }[]): { name: string; upstreams: string[]; loaded: string[] }[] {
  const by = new Map<string, { upstreams: string[]; loaded: string[] }>();
  for (const u of upstreams)
    for (const m of u.models) {
      const entry = by.get(m) ?? by.set(m, { upstreams: [], loaded: [] }).get(m)!;
      entry.upstreams.push(u.name);
      if (u.warm?.(m)) entry.loaded.push(u.name);
    }
  return [...by].map(([name, e]) => ({ name, ...e })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
