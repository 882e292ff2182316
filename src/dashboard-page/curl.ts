// "Copy as curl": an inspected request as a curl command line for the broker, credentials as shell variables, never values.
import type { RequestRecord } from "../core/contracts.ts";
import { connectionNamed } from "../net/hop-by-hop.ts";

/** What a redacted header value looks like in a record (src/net/captured-headers.ts). */
const REDACTED = "[redacted]";
/** Not on the command line: framing curl sets itself, the client's connection headers, and the dashboard's own marker. */
const SKIP = new Set(["host", "content-length", "connection", "keep-alive", "transfer-encoding", "accept-encoding", "expect", "cookie", "x-c2l-replay-of"]);
/** A redacted credential → the header curl sends instead (the variable is expanded by the shell, so it stays out of the text). */
const PLACEHOLDER: Record<string, string> = {
  authorization: '"Authorization: Bearer $C2L_KEY"',
  "x-api-key": '"x-api-key: $C2L_KEY"',
  "api-key": '"api-key: $C2L_KEY"',
};

/** One shell word in single quotes: nothing inside is expanded. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A word the shell passes on as it is (no quote, $, backtick or glob in it); anything else is quoted. A client picks its
 * method and header names, and RFC 9110 lets them hold ` and $: unquoted, or inside "…", the shell would run them.
 */
const PLAIN = /^[A-Za-z0-9._-]+$/;
const word = (s: string) => (PLAIN.test(s) ? s : shellQuote(s));

/** Whether the body was kept whole (or there was none): the command then sends exactly what the client sent. */
export function bodyComplete(r: RequestRecord): boolean {
  if (r.bytesIn === 0) return true;
  return r.requestBody !== undefined && !r.requestBodyTruncated;
}

export function curlCommand(r: RequestRecord, brokerUrl: string): string {
  const parts = ["curl"];
  const hasBody = r.bytesIn > 0 || (r.requestBody !== undefined && r.requestBody !== "");
  if (!(r.method === "GET" && !hasBody) && !(r.method === "POST" && hasBody)) parts.push("-X", word(r.method));
  parts.push(shellQuote(brokerUrl.replace(/\/+$/, "") + r.path));
  let other = 0;
  const all = r.requestHeaders ?? {};
  // The headers the original's Connection named were hop-by-hop: the broker never passed them on (as replay: replay.ts).
  const named = connectionNamed(all.connection);
  for (const [name, value] of Object.entries(all)) {
    if (SKIP.has(name) || named.includes(name)) continue;
    // The name in single quotes beside the variable in double quotes when it is not plain: one word, only $C2L_SECRET_n expanded.
    if (value === REDACTED) parts.push("-H", PLACEHOLDER[name] ?? (PLAIN.test(name) ? `"${name}: $C2L_SECRET_${++other}"` : `${shellQuote(`${name}: `)}"$C2L_SECRET_${++other}"`));
    else parts.push("-H", shellQuote(`${name}: ${value}`));
  }
  let note = "";
  if (hasBody) {
    if (bodyComplete(r)) parts.push("--data-raw", shellQuote(r.requestBody ?? ""));
    else {
      note = "# The body was not kept whole ([dashboard] capture_bodies, body_cap): put it in body.json first.\n";
      parts.push("--data-binary", "@body.json");
    }
  }
  return note + parts.join(" ");
}
