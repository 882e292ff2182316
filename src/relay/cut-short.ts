// How a relayed answer that cannot finish ends (the agent's session gone, the owner node gone): one log line, and a last
// error line or event in the caller's dialect, then a clean end, so clients show a reason instead of a reset.
import { streamErrorTail, streamFormat, type HttpError } from "../core/http-error.ts";
import { logger } from "../core/log.ts";

const log = logger("relay");
const enc = new TextEncoder();

/**
 * The last bytes of an answer cut short by `err` (by its content type: an NDJSON line or an SSE error event), or null
 * when the format has no in-band error and the body must fail. `expected` endings (an agent going away) log at info.
 * `fields.path` (the path after /t/ID) picks the SSE event's shape (sseErrorShape: Messages', Responses' or chat's).
 */
export function cutShortTail(err: HttpError, contentType: string | null, lastByte: number, expected: boolean, fields: Record<string, unknown>): Uint8Array | null {
  const tail = streamErrorTail(streamFormat(contentType), err, lastByte, typeof fields.path === "string" ? fields.path : "");
  log[expected ? "info" : "warn"]("answer cut short", { ...fields, error: err.message, ended_with: tail === null ? "reset" : "error_line" });
  return tail === null ? null : enc.encode(tail);
}

/**
 * A body read from elsewhere (the owner node's answer across the cluster hop) as a Bun direct stream that, when reading
 * it fails, ends with `onBreak`'s bytes (see cutShortTail; it sees the last byte sent, -1 for none) instead of a reset.
 * `ended`: the body is over (whole, cut short, or the client gone).
 */
export function endingBody(body: ReadableStream<Uint8Array>, onBreak: (e: unknown, lastByte: number) => Uint8Array | null, ended?: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let cancelled = false;
  return new ReadableStream({
    type: "direct",
    pull: async (c: { write(b: Uint8Array): unknown; flush(): unknown; close(): void }) => {
      try {
        await copy(c);
      } finally {
        ended?.();
      }
    },
    cancel: (reason: unknown) => {
      cancelled = true;
      reader.cancel(reason).catch(() => {});
      ended?.();
    },
  } as unknown as UnderlyingDefaultSource<Uint8Array>);

  async function copy(c: { write(b: Uint8Array): unknown; flush(): unknown; close(): void }): Promise<void> {
    let last = -1;
    for (;;) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        if (cancelled) return;
        const tail = onBreak(e, last);
        // Failed with undefined, not an Error: Bun prints an Error that fails a body as a multi-line stack dump.
        if (tail === null) throw undefined;
        c.write(tail);
        c.close();
        return;
      }
      if (r.done) break;
      if (!r.value.length) continue;
      last = r.value[r.value.length - 1]!;
      // Backpressure: a pending write waits for a slow client (see Stream.directReadable).
      const w = c.write(r.value);
      if (typeof w !== "number") await w;
      await c.flush();
    }
    c.close();
  }
}
