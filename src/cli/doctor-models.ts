// doctor's look at an upstream that answers but has no model: every app's request then fails with "model not found",
// which a green line would hide. The model list is the kind's own read (src/kinds/), as the health check reads it.
import { kindOf } from "../kinds/index.ts";
import { upstreamRequestUrl } from "../net/upstream-url.ts";
import type { Config } from "../config/schema.ts";
import type { UpstreamTls } from "../config/upstream-tls.ts";

/** How to get a first model, per kind; the others get the generic sentence. */
const FIRST_MODEL: Record<string, string> = {
  ollama: "`ollama pull llama3.2` (or any model of https://ollama.com/library)",
};

/** The fix when the upstream lists no model, or null when it lists some (or its list cannot be read: no claim then). */
export async function noModelFix(u: Config["upstreams"][number], headers: Record<string, string>, timeoutMs: number, tls?: UpstreamTls): Promise<string | null> {
  const read = kindOf(u.kind).reads.find((r) => r.tells.includes("models"));
  if (!read) return null;
  try {
    const res = await fetch(upstreamRequestUrl(u.url, read.path), { headers, signal: AbortSignal.timeout(timeoutMs), redirect: "manual", tls } as RequestInit);
    if (!res.ok) return null;
    const body = read.as === "json" ? await res.json() : await res.text();
    // Only a list that is there and empty says "no model" (the field the kind's table names: models[], data[]).
    const field = /^(\w+)\[\]/.exec(read.fields ?? "")?.[1];
    if (!field || !Array.isArray((body as Record<string, unknown> | null)?.[field])) return null;
    const models = read.apply(body).models;
    return models && models.length === 0 ? (FIRST_MODEL[u.kind] ?? `load a model into the server of upstream "${u.name}"`) : null;
  } catch {
    return null;
  }
}
