// The message of an upstream's error answer, whatever its server's shape, for rewriting it in the caller's dialect.

/**
 * OpenAI's `{"error":{"message"}}`, Ollama's `{"error":"…"}`, `{"message"}`, FastAPI's `{"detail"}` (vLLM), or the text
 * itself; a body that says nothing gives "the upstream answered STATUS".
 */
export function upstreamErrorMessage(status: number, body: string): string {
  let message = body.trim();
  try {
    const j = JSON.parse(body) as { error?: unknown; message?: unknown; detail?: unknown };
    const e = j?.error;
    if (typeof e === "string") message = e;
    else if (e && typeof e === "object" && typeof (e as { message?: unknown }).message === "string") message = (e as { message: string }).message;
    else if (typeof j?.message === "string") message = j.message;
    else if (typeof j?.detail === "string") message = j.detail;
  } catch {}
  return message || `the upstream answered ${status}`;
}
