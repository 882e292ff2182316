// An upstream's model list or probe read whole, up to a cap: a server that answers /api/tags with gigabytes (a model
// name of megabytes, a body that never ends) costs the daemon at most the cap, never all of its memory.
import { BUFFER_LIMIT } from "./request-body.ts";

/** The body as text; over `limit` bytes (declared or received) the read is cancelled and it throws, naming `what`. */
export async function boundedText(res: Response, what: string, limit = BUFFER_LIMIT): Promise<string> {
  if (!res.body) return "";
  const over = () => new Error(`${what} is over ${limit} bytes, more than the broker reads`);
  if (Number(res.headers.get("content-length") ?? 0) > limit) {
    void res.body.cancel().catch(() => {});
    throw over();
  }
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let held = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    held += value.byteLength;
    if (held > limit) {
      parts.length = 0;
      void reader.cancel().catch(() => {});
      throw over();
    }
    parts.push(value);
  }
  return new TextDecoder().decode(parts.length === 1 ? parts[0] : Buffer.concat(parts));
}

/** The body as JSON, read as boundedText. */
export async function boundedJson(res: Response, what: string, limit = BUFFER_LIMIT): Promise<unknown> {
  return JSON.parse(await boundedText(res, what, limit));
}
