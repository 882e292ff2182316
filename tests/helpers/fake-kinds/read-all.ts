// Runs every read a kind declares (src/kinds/) against a server, as the health monitor does, and merges what they tell:
// the kind modules' unit tests read their fake with it.
import { kindOf, type KindName, type Reading } from "../../../src/kinds/index.ts";

export interface ReadAll extends Reading {
  /** Reads that failed (status, or a body the kind judged unhealthy), by path. */
  failed: Record<string, string>;
}

export async function readAll(kind: KindName, base: string): Promise<ReadAll> {
  const out: ReadAll = { failed: {} };
  for (const r of kindOf(kind).reads) {
    try {
      const res = await fetch(base + r.path);
      if (!res.ok) throw new Error(`${r.path} answered ${res.status}`);
      const got = r.apply(r.as === "json" ? await res.json() : await res.text());
      if (got.version !== undefined) out.version = got.version;
      if (got.models) out.models = got.models;
      if (got.loaded) out.loaded = got.loaded;
      if (got.capacity) out.capacity = { ...out.capacity, ...got.capacity };
    } catch (e) {
      out.failed[r.path] = (e as Error).message;
    }
  }
  return out;
}
