// Turns fetch failures into one short sentence for logs, status and error bodies; a network code in net-error-words.ts's words.
import { explained, netErrorWords } from "./net-error-words.ts";

/** Codes of this process's own file limit, not of the network (so not in net-error-words.ts): Bun words them "Was there a typo in the url or port?". */
export const FILE_LIMIT_CODES: ReadonlySet<string> = new Set(["EMFILE", "ENFILE"]);

export function describeFetchError(e: unknown): string {
  const err = e as Error & { code?: string };
  if (err?.name === "TimeoutError") return "timed out";
  if (err?.code && FILE_LIMIT_CODES.has(err.code)) return `too many open files (${err.code}): the daemon is at its file limit (ulimit -n, systemd LimitNOFILE=), not the upstream`;
  const words = netErrorWords(err?.code);
  // The short form: status, the verdict's reason and a /metrics label say it (core/verdict.ts matches on it).
  if (words && !words.untrusted) return words.what;
  // An https upstream with a private CA or a self-signed certificate: say which setting trusts it.
  if (words) return `${explained(words)}: set the upstream's ca_file to the CA that signed it, or to the self-signed certificate`;
  // Bun appends advice to some messages ("For more information, pass `verbose: true`..."): keep the first sentence.
  const msg = err?.message ?? String(e);
  const cut = msg.indexOf(". For more information");
  // Bun words some failures `CODE fetching "<the URL>"`: the upstream's address, path and query are the config's, and this
  // sentence reaches callers' error bodies (a cloud caller's too) and the open status, so the URL is left out.
  const first = withoutUrl(cut > 0 ? msg.slice(0, cut) : msg);
  if (err?.code && NOT_HTTP.has(err.code)) return `its answer is not HTTP (${err.code})`;
  return bounded(first);
}

/** Bun's codes for bytes from the upstream that are no HTTP answer (a wrong port, a broken proxy). */
export const NOT_HTTP: ReadonlySet<string> = new Set(["Malformed_HTTP_Response", "InvalidHTTPResponse"]);

/** A message without Bun's `fetching "<url>"` and without any other URL it quotes. */
function withoutUrl(msg: string): string {
  return msg.replace(/ fetching "[^"]*"/g, "").replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"']+/gi, "(the upstream's URL)");
}

/** Longest reason kept: a message may quote the upstream (llama.cpp's /health status, a parse error), at any length. */
export const MAX_REASON = 300;

/** A reason cut to MAX_REASON characters: it goes into status, every log line about it and a /metrics label. */
function bounded(msg: string): string {
  return msg.length > MAX_REASON ? `${msg.slice(0, MAX_REASON)}…` : msg;
}
