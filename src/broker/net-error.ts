// Turns fetch failures into one short sentence for logs, status and error bodies.
export function describeFetchError(e: unknown): string {
  const err = e as Error & { code?: string };
  if (err?.name === "TimeoutError") return "timed out";
  switch (err?.code) {
    case "ConnectionRefused":
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
      return "connection reset";
    case "FailedToOpenSocket":
    case "ENOTFOUND":
      return "host not found or unreachable";
    // Bun words these "Was there a typo in the url or port?": the cause is this process's own file limit.
    case "EMFILE":
    case "ENFILE":
      return `too many open files (${err.code}): the daemon is at its file limit (ulimit -n, systemd LimitNOFILE=), not the upstream`;
  }
  // Bun appends advice to some messages ("For more information, pass `verbose: true`..."): keep the first sentence.
  const msg = err?.message ?? String(e);
  const cut = msg.indexOf(". For more information");
  return bounded(cut > 0 ? msg.slice(0, cut) : msg);
}

/** Longest reason kept: a message may quote the upstream (llama.cpp's /health status, a parse error), at any length. */
export const MAX_REASON = 300;

/** A reason cut to MAX_REASON characters: it goes into status, every log line about it and a /metrics label. */
function bounded(msg: string): string {
  return msg.length > MAX_REASON ? `${msg.slice(0, MAX_REASON)}…` : msg;
}
