// Where a JSON text first goes wrong, as line and column: the runtime's JSON.parse says what it expected but not where.

/** Deeper nesting than this is reported where it starts (a 1.x/2.x config nests two levels; recursion must stay bounded). */
const MAX_DEPTH = 512;

/**
 * The 1-based line and column of the first character that is not valid JSON (the end of the text when it stops
 * short), or null when the whole text is valid JSON. Only called on a text JSON.parse refused: not on a hot path.
 */
export function jsonErrorPosition(text: string): { line: number; column: number } | null {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const lit = (word: string) => {
    for (const ch of word) {
      if (text[i] !== ch) return false;
      i++;
    }
    return true;
  };
  const str = (): boolean => {
    i++; // the opening quote
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) return (i++, true);
      if (c < 0x20) return false;
      if (c === 0x5c) {
        i++;
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) return (i++, false);
          i += 5;
        } else if (i < text.length && '"\\/bfnrt'.includes(text[i]!)) i++;
        else return false;
      } else i++;
    }
    return false;
  };
  const num = (): boolean => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === "" || m[0] === "-") return false;
    i += m[0].length;
    return true;
  };
  const value = (depth: number): boolean => {
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      if (depth >= MAX_DEPTH) return false;
      const close = c === "{" ? "}" : "]";
      i++;
      ws();
      if (text[i] === close) return (i++, true);
      for (;;) {
        if (c === "{") {
          ws();
          if (text[i] !== '"' || !str()) return false;
          ws();
          if (text[i] !== ":") return false;
          i++;
        }
        if (!value(depth + 1)) return false;
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === close) return (i++, true);
        else return false;
      }
    }
    if (c === '"') return str();
    if (c === "t") return lit("true");
    if (c === "f") return lit("false");
    if (c === "n") return lit("null");
    return num();
  };
  if (value(0)) {
    ws();
    if (i >= text.length) return null;
  }
  const before = text.slice(0, i).split("\n");
  return { line: before.length, column: before.at(-1)!.length + 1 };
}
