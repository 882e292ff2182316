// How an upstream's reported load reads in a line (the `status` table, the dashboard's cards): loaded models and slots.
import type { UpstreamStatus } from "./contracts.ts";

/** The models it has in memory, as a count ("2"), or null when its kind does not say. */
export function loadedText(u: Pick<UpstreamStatus, "loaded">): string | null {
  return u.loaded && u.loaded.length > 0 ? String(u.loaded.length) : null;
}

/**
 * The load it last reported: "busy/slots" (llama.cpp, LM Studio), or the requests running alone (vLLM), with the
 * ones waiting in its own queue ("3 +5 waiting"); null when its kind reports none.
 */
export function capacityText(u: Pick<UpstreamStatus, "capacity">): string | null {
  const c = u.capacity;
  if (!c) return null;
  const running = c.slots !== null ? `${c.busy ?? "?"}/${c.slots}` : c.busy !== null ? String(c.busy) : null;
  const waiting = c.waiting ? `+${c.waiting} waiting` : null;
  const text = [running, waiting].filter((x) => x !== null).join(" ");
  return text === "" ? null : text;
}
