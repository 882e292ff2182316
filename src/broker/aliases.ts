// Model aliases ([[aliases]]): the name an app sends → the model the broker routes to and asks the upstream for.
import type { Config } from "../config/schema.ts";
import { foldsTo } from "./json-top-level.ts";

export type AliasTable = ReadonlyMap<string, { model: string; show: boolean }>;

export function aliasTable(config: Pick<Config, "aliases">): AliasTable {
  return new Map(config.aliases.map((a) => [a.name, { model: a.model, show: a.show }]));
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The body with its top-level "model" replaced: parsed and written again (only requests that use an alias pay for it);
 * every other field, known or not, stays as sent. A body that is not a JSON object comes back unchanged.
 */
export function withModel(body: Uint8Array, model: string): Uint8Array {
  return withFields(body, { model });
}

/**
 * The body with top-level fields set (parsed and written again); a body that is not a JSON object comes back as it is.
 * Other spellings of a field's name ("KEEP_ALIVE", "\u212Aeep_alive") are taken out: Go's encoding/json (Ollama) sets
 * the field from every key that matches it without case, the last one winning, so one left after ours would win.
 */
export function withFields(body: Uint8Array, fields: Record<string, unknown>): Uint8Array {
  const obj = bodyObject(body);
  return obj === null ? body : objectWithFields(obj, fields);
}

/** The body's top-level object, or null when it is not a JSON object. */
export function bodyObject(body: Uint8Array): Record<string, unknown> | null {
  let json: unknown;
  try {
    json = JSON.parse(dec.decode(body));
  } catch {
    return null;
  }
  return json && typeof json === "object" && !Array.isArray(json) ? (json as Record<string, unknown>) : null;
}

/** A parsed body (bodyObject) with top-level fields set as withFields sets them, written again. */
export function objectWithFields(obj: Record<string, unknown>, fields: Record<string, unknown>): Uint8Array {
  for (const name in fields) for (const key of Object.keys(obj)) if (key !== name && foldsTo(key, name)) delete obj[key];
  Object.assign(obj, fields);
  return enc.encode(JSON.stringify(obj));
}

/** Ollama's routes that load a model and take keep_alive. */
export const KEEP_ALIVE_PATHS = new Set(["/api/chat", "/api/generate", "/api/embed", "/api/embeddings"]);

/** The merged model lists with the aliases marked `show` added, each as a copy of its target's entry under its own name. */
export function listWithAliases<T extends Record<string, unknown>>(entries: T[], aliases: AliasTable, key: "name" | "id"): T[] {
  const out = [...entries];
  const have = new Set(entries.map((e) => e[key] as string));
  for (const [name, a] of aliases) {
    if (!a.show || have.has(name)) continue;
    // "llama3" names llama3:latest in either list: Ollama's /v1/models lists ids with their tag too.
    const target = entries.find((e) => e[key] === a.model || e[key] === `${a.model}:latest`);
    if (!target) continue; // an alias of a model nobody serves would only fail when used
    out.push(key === "name" ? { ...target, name, model: name } : { ...target, id: name });
    have.add(name);
  }
  return out;
}
