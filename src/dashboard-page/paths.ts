// Dotted field paths with [i] indexes ("upstreams[0].url"), the form the API uses for config issues.
type Json = Record<string, unknown>;

/** Reads a dotted path with [i] indexes ("upstreams[0].url"). */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.match(/[^.[\]]+/g) ?? []) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Json)[part];
  }
  return cur;
}

export function setPath(obj: Json, path: string, value: unknown): void {
  const parts = path.match(/[^.[\]]+/g) ?? [];
  let cur: Json = obj;
  parts.forEach((p, i) => {
    if (i === parts.length - 1) cur[p] = value;
    else {
      if (cur[p] === null || typeof cur[p] !== "object") cur[p] = /^\d+$/.test(parts[i + 1]!) ? [] : {};
      cur = cur[p] as Json;
    }
  });
}
