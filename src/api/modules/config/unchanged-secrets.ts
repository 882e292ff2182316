// A config sent back as GET showed it: each "[redacted]" left exactly where and as GET put it stands for the secret it hides.
import { redactSecrets } from "../../../config/redact.ts";

type Node = Record<string, unknown> | unknown[];

const isNode = (v: unknown): v is Node => typeof v === "object" && v !== null;
/** Two entries of a list are the same entry only when they carry the same name (an upstream removed above shifts the rest). */
const sameEntry = (a: unknown, b: unknown) => !(isNode(a) && isNode(b) && "name" in a && "name" in b) || a.name === b.name;

/**
 * Returns `sent` with every string that equals what the redacted view of `current` shows at the same place (and not the
 * real value there) replaced by the real value. The dashboard's form sends the whole config back, secrets it never saw
 * included; anything else that still reads "[redacted]" (moved, edited, or new) is left for the caller to refuse.
 */
export function keepUnchangedSecrets(sent: unknown, current: unknown): unknown {
  const shown = redactSecrets(current).value;
  const walk = (s: unknown, view: unknown, real: unknown): unknown => {
    if (typeof s === "string") return s === view && view !== real && typeof real === "string" ? real : s;
    if (Array.isArray(s)) {
      if (!Array.isArray(view) || !Array.isArray(real)) return s;
      return s.map((x, i) => (sameEntry(x, real[i]) ? walk(x, view[i], real[i]) : x));
    }
    if (isNode(s) && isNode(view) && isNode(real) && !Array.isArray(view) && !Array.isArray(real)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s)) out[k] = walk(v, view[k], real[k]);
      return out;
    }
    return s;
  };
  return walk(sent, shown, current);
}
