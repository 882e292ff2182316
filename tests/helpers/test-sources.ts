// Reads test files as text for the suite's own checks (tests/foundation/test-hygiene.test.ts): each test's body, and which helpers assert.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

/**
 * The source with the text of strings, template literals, comments and regular expressions blanked out (same length,
 * line breaks kept, a template's `${…}` code kept), so that searching it finds only code.
 */
export function codeOnly(src: string): string {
  const out = src.split("");
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  /** Brace depths at which a template's `${` was opened: its `}` resumes the template. */
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  /** The last character that is not white space, to tell a regular expression from a division. */
  let last = "";
  const template = () => {
    const start = i;
    while (i < src.length) {
      const c = src[i];
      if (c === "\\") i += 2;
      else if (c === "`") {
        blank(start, i);
        i++;
        last = "a";
        return;
      } else if (c === "$" && src[i + 1] === "{") {
        blank(start, i);
        i += 2;
        templates.push(depth++);
        last = "(";
        return;
      } else i++;
    }
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === "/" && src[i + 1] === "/") {
      const end = src.indexOf("\n", i) < 0 ? src.length : src.indexOf("\n", i);
      blank(i, end);
      i = end;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2) < 0 ? src.length : src.indexOf("*/", i + 2) + 2;
      blank(i, end);
      i = end;
    } else if (c === "'" || c === '"') {
      const start = ++i;
      while (i < src.length && src[i] !== c && src[i] !== "\n") i += src[i] === "\\" ? 2 : 1;
      blank(start, i++);
      last = "a";
    } else if (c === "`") {
      i++;
      template();
    } else if (c === "/" && ("(,=:[!&|?{};+-*%<>~^".includes(last) || last === "" || /(?:return|typeof|case|void|throw|in|of)\s*$/.test(src.slice(Math.max(0, i - 10), i)))) {
      const start = ++i;
      let inClass = false;
      while (i < src.length && src[i] !== "\n" && (inClass || src[i] !== "/")) {
        if (src[i] === "\\") i++;
        else if (src[i] === "[") inClass = true;
        else if (src[i] === "]") inClass = false;
        i++;
      }
      blank(start, i++);
      last = "a";
    } else {
      if (c === "{") depth++;
      else if (c === "}" && templates[templates.length - 1] === --depth) {
        templates.pop();
        i++;
        template();
        continue;
      }
      if (!/\s/.test(c)) last = /[\w$)\]]/.test(c) ? "a" : c;
      i++;
    }
  }
  return out.join("");
}

/** The index of the bracket closing the one at `open` in code (from codeOnly), or -1. */
export function closing(code: string, open: number): number {
  let d = 0;
  for (let k = open; k < code.length; k++) {
    const c = code[k];
    if (c === "(" || c === "{" || c === "[") d++;
    else if ((c === ")" || c === "}" || c === "]") && --d === 0) return k;
  }
  return -1;
}

export interface TestDeclaration {
  line: number;
  /** The test's name as written (a template's `${…}` included). */
  name: string;
  /** How it was declared: test, it, test.each(…), guarded.test, … */
  how: string;
  /** The callback's code (from codeOnly): its block, or its expression. */
  body: string;
}

/** Calls of test and it (guarded ones, `x.test(…)` and `requireTools([…]).test(…)`, and modifiers such as `.each(…)` and `.skipIf(…)` included) with a callback. */
export function testDeclarations(src: string): TestDeclaration[] {
  const code = codeOnly(src);
  const found: TestDeclaration[] = [];
  for (const m of code.matchAll(/((?:(?<![\w$.])(?:[\w$]+\.)?|(?<=\))\.)(?:test|it))((?:\.\w+(?:\((?:[^()]|\([^()]*\))*\))?)*)\s*\(/g)) {
    const open = m.index! + m[0].length - 1;
    const close = closing(code, open);
    if (close < 0) continue;
    const fn = callbackStart(code, open + 1, close);
    if (fn < 0) continue;
    // The callback's block, when the arrow (or function head) is followed by one; else its expression.
    const head = /^(?:=>|function\b[^(]*\([^)]*\)(?:\s*:[^{]*)?)\s*\{/.exec(code.slice(fn, close));
    const body = head ? code.slice(fn + head[0].length - 1, closing(code, fn + head[0].length - 1) + 1) : code.slice(fn + 2, close);
    const name = /^\s*(["'`])((?:\\.|(?!\1)[^\\])*)\1/s.exec(src.slice(open + 1, close))?.[2] ?? "";
    found.push({ line: src.slice(0, m.index!).split("\n").length, name, how: m[1]! + (m[2] ?? ""), body });
  }
  return found;
}

/** Where the callback among a call's arguments starts (its `=>`, or `function`), or -1 when the call has none. */
function callbackStart(code: string, from: number, to: number): number {
  let d = 0;
  for (let k = from; k < to; k++) {
    const c = code[k]!;
    if (d === 0 && c === "(") {
      const e = closing(code, k);
      if (/^\s*(?::\s*[\w<>[\], |]+)?\s*=>/.test(code.slice(e + 1, e + 80))) return code.indexOf("=>", e);
    }
    if (c === "(" || c === "{" || c === "[") d++;
    else if (c === ")" || c === "}" || c === "]") d--;
    else if (d === 0 && (code.startsWith("=>", k) || (code.startsWith("function", k) && !/[\w$]/.test(code[k - 1] ?? "")))) return k;
  }
  return -1;
}

/**
 * Calls that fail the test when what they wait for or check does not hold: expect (and helpers named expect…, methods
 * included), and the waits that throw on their timeout (tests/helpers/until.ts's until, a daemon's or Playwright's waitFor…).
 */
export const ASSERTS = /(?<![\w$])(?:expect\w*|until|waitFor\w*)\s*[(.<]/;

/** Names of the functions declared in `src` (function, or a const bound to an arrow or function) and their code. */
function functionsOf(code: string): Map<string, string> {
  const fns = new Map<string, string>();
  for (const m of code.matchAll(/(?<![\w$.])(?:async\s+)?function\s*\*?\s*([\w$]+)\s*(?:<[^>]*>)?\s*\(|(?<![\w$.])const\s+([\w$]+)\s*(?::[^=]+)?=\s*(?:async\s*)?(?:function\b|\([^)]*\)\s*(?::[^=]+)?=>|[\w$]+\s*=>)/g)) {
    // Past the parameters (their types may hold braces), then the body's brace.
    let from = m.index! + m[0].length;
    const params = m[0].endsWith("(") ? from - 1 : m[0].endsWith("function") ? code.indexOf("(", from) : -1;
    if (params >= 0) from = closing(code, params) + 1;
    const brace = code.indexOf("{", from);
    const semicolon = code.indexOf(";", from);
    // A one-expression arrow ends at its statement's semicolon (a rough bound; it only needs to contain the expression).
    const end = brace >= 0 && (semicolon < 0 || brace < semicolon || m[1]) ? closing(code, brace) + 1 : semicolon;
    fns.set((m[1] ?? m[2])!, code.slice(m.index!, end > 0 ? end : code.length));
  }
  return fns;
}

const assertingCache = new Map<string, Set<string>>();

/**
 * The functions of the file at `path` that assert: they call expect or a throwing wait, or another such function of the
 * file or of a file it imports with a relative path (followed to any depth).
 */
export function assertingFunctions(path: string, seen = new Set<string>()): Set<string> {
  const cached = assertingCache.get(path);
  if (cached) return cached;
  if (seen.has(path)) return new Set();
  seen.add(path);
  let src: string;
  try {
    src = readFileSync(path, "utf8");
  } catch {
    return new Set();
  }
  const code = codeOnly(src);
  const asserting = importedAsserting(path, src, seen);
  const fns = functionsOf(code);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [name, body] of fns) if (!asserting.has(name) && (ASSERTS.test(body) || callsAny(body, asserting))) grew = !!asserting.add(name);
  }
  assertingCache.set(path, asserting);
  return asserting;
}

/** The names (as imported, `as` renames applied) that the file's relative imports bring in and that assert. */
function importedAsserting(path: string, src: string, seen: Set<string>): Set<string> {
  const out = new Set<string>();
  for (const m of src.matchAll(/^import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+"(\.[^"]+)"/gm)) {
    const theirs = assertingFunctions(resolve(dirname(path), m[2]!), seen);
    for (const part of m[1]!.split(",")) {
      const [orig, local = orig] = part.trim().replace(/^type\s+/, "").split(/\s+as\s+/);
      if (orig && theirs.has(orig)) out.add(local!.trim());
    }
  }
  return out;
}

/** Whether `code` calls (or passes on) one of `names`. */
export function callsAny(code: string, names: ReadonlySet<string>): boolean {
  for (const m of code.matchAll(/(?<![\w$.])([\w$]+)\s*(?:\(|[,)])/g)) if (names.has(m[1]!)) return true;
  return false;
}
