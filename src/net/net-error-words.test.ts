// The one table of network error words: every code a caller handles is worded in it, and each caller says the table's words.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ALIASES, explained, NET_ERROR_WORDS, netErrorWords } from "./net-error-words.ts";
import { describeFetchError, FILE_LIMIT_CODES, NOT_HTTP } from "./fetch-error.ts";
import { unreachable } from "./unreachable.ts";
import { reason } from "../cli/doctor-checks.ts";

/** The places that word a network error code for a user, and the codes each words on its own (not network codes). */
const CALLERS: Record<string, ReadonlySet<string>> = {
  "src/net/fetch-error.ts": new Set([...FILE_LIMIT_CODES, ...NOT_HTTP]),
  "src/net/unreachable.ts": new Set(),
  "src/cli/doctor-checks.ts": new Set(),
};

/** A string literal shaped as an error code: errno (ECONNREFUSED, EAI_AGAIN), TLS (DEPTH_ZERO_SELF_SIGNED_CERT), or one of Bun's (ConnectionRefused, FailedToOpenSocket). */
const CODE_SHAPE = /^(E[A-Z0-9]{3,}(_[A-Z0-9]+)*|[A-Z0-9]+(_[A-Z0-9]+){2,}|(Connection|FailedTo|Invalid|Malformed|Unable|Cert)[A-Za-z_]*)$/;

test("every code a caller handles is worded in the table (a code added to one caller without wording fails here)", () => {
  for (const [file, own] of Object.entries(CALLERS)) {
    const src = readFileSync(join(import.meta.dir, "../..", file), "utf8");
    // Its words come from the table, not from one of its own.
    expect({ file, imports: src.includes('from "./net-error-words.ts"') || src.includes('from "../net/net-error-words.ts"') }).toEqual({ file, imports: true });
    const codes = [...src.matchAll(/["'`]([A-Za-z0-9_]+)["'`]/g)].map((m) => m[1]!).filter((c) => CODE_SHAPE.test(c));
    const unworded = codes.filter((c) => !own.has(c) && !netErrorWords(c));
    expect({ file, unworded }).toEqual({ file, unworded: [] });
  }
  // Every alias stands for a worded code.
  for (const [alias, code] of Object.entries(ALIASES)) expect({ alias, worded: code in NET_ERROR_WORDS }).toEqual({ alias, worded: true });
});

test("the codes the task names are worded, each caller says the table's words for every code, and an alias says its code's", () => {
  for (const code of ["ECONNREFUSED", "ENETUNREACH", "EHOSTUNREACH", "ETIMEDOUT", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "CERT_HAS_EXPIRED", "DEPTH_ZERO_SELF_SIGNED_CERT"]) expect(NET_ERROR_WORDS[code]).toBeDefined();
  const err = (code: string) => Object.assign(new Error(`${code}: Bun's words`), { code });
  for (const [code, w] of Object.entries(NET_ERROR_WORDS)) {
    // A status field and an error body: the short words (a certificate's with the setting that trusts it).
    expect(describeFetchError(err(code))).toBe(w.untrusted ? `${explained(w)}: set the upstream's ca_file to the CA that signed it, or to the self-signed certificate` : w.what);
    // A diagnosis: what and why.
    expect(reason(err(code), "ca_file")).toBe(w.untrusted ? `${w.what} (${w.why}; set ca_file)` : explained(w));
    expect(unreachable("relay.example", 443, err(code))).toBe(`relay.example:443: ${explained(w)} (${code})`);
  }
  expect(describeFetchError(err("ConnectionRefused"))).toBe("connection refused");
  // A code not worded here keeps the system's message.
  expect(unreachable("::1", 9, err("EWHATEVER"))).toBe("[::1]:9: EWHATEVER: Bun's words");
});
