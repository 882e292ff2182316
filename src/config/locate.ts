// Maps a field path ("upstreams[0].url") back to its line and column in the TOML text, so semantic errors point at the source.
export interface Position {
  line: number; // 1-based
  column: number; // 1-based
}

/**
 * Scans (already syntactically valid) TOML and records where every key, table header and array
 * element starts. Paths use the same form as validation issues: dotted keys, `[i]` for array items.
 */
export function locateAll(text: string): Map<string, Position> {
  const out = new Map<string, Position>();
  const arrayCounts = new Map<string, number>(); // array-of-tables path → items so far
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const pos = (): Position => ({ line, column: i - lineStart + 1 });
  const record = (path: string, p: Position) => {
    if (path && !out.has(path)) out.set(path, p);
  };
  const advance = () => {
    if (text[i] === "\n") {
      line++;
      lineStart = i + 1;
    }
    i++;
  };
  const skipWs = (newlines: boolean) => {
    for (;;) {
      const c = text[i];
      if (c === " " || c === "\t" || c === "\r" || (newlines && c === "\n")) advance();
      else if (c === "#") while (i < text.length && text[i] !== "\n") advance();
      else return;
    }
  };
  const readString = (): string => {
    const q = text[i]!;
    const triple = text.startsWith(q.repeat(3), i);
    let s = "";
    if (triple) {
      for (let k = 0; k < 3; k++) advance();
      while (i < text.length && !(text.startsWith(q.repeat(3), i) && text[i + 3] !== q)) {
        s += text[i];
        advance();
      }
      for (let k = 0; k < 3 && i < text.length; k++) advance();
      return s;
    }
    advance();
    while (i < text.length && text[i] !== q && text[i] !== "\n") {
      if (q === '"' && text[i] === "\\") {
        advance();
      }
      s += text[i];
      advance();
    }
    advance();
    return s;
  };
  const readKey = (): string[] => {
    const parts: string[] = [];
    for (;;) {
      skipWs(false);
      if (text[i] === '"' || text[i] === "'") parts.push(readString());
      else {
        let s = "";
        while (i < text.length && /[A-Za-z0-9_-]/.test(text[i]!)) {
          s += text[i];
          advance();
        }
        parts.push(s);
      }
      skipWs(false);
      if (text[i] === ".") advance();
      else return parts;
    }
  };
  const join = (base: string, key: string) => (base ? `${base}.${key}` : key);
  const readValue = (path: string): void => {
    skipWs(false);
    const c = text[i];
    if (c === '"' || c === "'") readString();
    else if (c === "[") {
      advance();
      let idx = 0;
      for (;;) {
        skipWs(true);
        if (i >= text.length) return;
        if (text[i] === "]") {
          advance();
          return;
        }
        if (text[i] === ",") {
          advance();
          continue;
        }
        record(`${path}[${idx}]`, pos());
        readValue(`${path}[${idx}]`);
        idx++;
      }
    } else if (c === "{") {
      advance();
      for (;;) {
        skipWs(false);
        if (i >= text.length || text[i] === "}") {
          advance();
          return;
        }
        if (text[i] === ",") {
          advance();
          continue;
        }
        const at = pos();
        const key = readKey();
        let p = path;
        for (const k of key) record((p = join(p, k)), at);
        skipWs(false);
        if (text[i] === "=") advance();
        readValue(p);
      }
    } else {
      while (i < text.length && !/[,\]}\n#]/.test(text[i]!)) advance();
    }
  };
  /** Resolves a header's key parts, entering the current item of any array of tables on the way. */
  const resolve = (parts: string[], isArrayItem: boolean): string => {
    let p = "";
    parts.forEach((k, n) => {
      p = join(p, k);
      const last = n === parts.length - 1;
      if (last && isArrayItem) {
        const count = arrayCounts.get(p) ?? 0;
        arrayCounts.set(p, count + 1);
        // Nested arrays of tables restart when their parent item changes.
        for (const key of [...arrayCounts.keys()]) if (key.startsWith(`${p}[`)) arrayCounts.delete(key);
        p = `${p}[${count}]`;
      } else if (arrayCounts.has(p)) {
        p = `${p}[${arrayCounts.get(p)! - 1}]`;
      }
    });
    return p;
  };

  let table = "";
  while (i < text.length) {
    skipWs(true);
    if (i >= text.length) break;
    const at = pos();
    if (text[i] === "[") {
      const isArrayItem = text[i + 1] === "[";
      advance();
      if (isArrayItem) advance();
      const parts = readKey();
      while (i < text.length && text[i] !== "\n") advance();
      table = resolve(parts, isArrayItem);
      record(table, at);
      continue;
    }
    const key = readKey();
    let p = table;
    for (const k of key) record((p = join(p, k)), at);
    skipWs(false);
    if (text[i] === "=") advance();
    readValue(p);
    while (i < text.length && text[i] !== "\n") advance();
  }
  return out;
}

/** Position of `path`, or of its nearest located ancestor (a missing field points at its table). */
export function locate(text: string, path: string, all = locateAll(text)): Position | undefined {
  let p = path;
  while (p) {
    const hit = all.get(p);
    if (hit) return hit;
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    if (cut <= 0) break;
    p = p.slice(0, cut);
  }
  return undefined;
}
