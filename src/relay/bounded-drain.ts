// How much of a refused call's unread body the relay reads before answering: enough that a proxy in front sees its
// answer rather than a reset, never so much that anyone who can connect makes the relay read an endless upload.

/** At most this many bytes of a refused body are read (a refused chat with large images still gets its answer through a proxy). */
export const DRAIN_MAX_BYTES = 16 * 1024 * 1024;
/** For at most this long: a body trickled in slowly is cut like nginx's lingering close. */
export const DRAIN_MAX_MS = 5_000;

/**
 * Reads and discards `body` up to `maxBytes` or `maxMs`, whichever comes first. Null when it reached its end (the
 * connection may be answered cleanly); when the bound cut it, the body's reader, the rest unread: the answer must
 * close the connection, after a lingering close (lingering-close.ts) so that a client still sending sees it first.
 */
export async function drainBounded(body: ReadableStream<Uint8Array>, maxBytes = DRAIN_MAX_BYTES, maxMs = DRAIN_MAX_MS): Promise<ReadableStreamDefaultReader<Uint8Array> | null> {
  const reader = body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), maxMs)));
  let read = 0;
  try {
    for (;;) {
      const r = await Promise.race([reader.read(), late]);
      if (r === "late") break;
      if (r.done) return null;
      read += r.value.byteLength;
      if (read > maxBytes) break;
    }
  } catch {
    // The client went away (or the idle timer cut a body trickled in): the answer has no one to reach.
    return null;
  } finally {
    clearTimeout(timer);
  }
  return reader;
}
