// The answer to a call whose unread body the drain's bound cut (bounded-drain.ts): sent while the relay goes on reading
// and dropping what the client still sends, for a bounded time, before the connection closes (nginx's lingering close).

/** The read goes on for at most this long after the answer went out (nginx's lingering_time, shorter). */
export const LINGER_MAX_MS = 2_000;
/** And ends once the client has sent nothing for this long: it read the answer and stopped (nginx's lingering_timeout). */
export const LINGER_QUIET_MS = 300;

/**
 * `res` (a refusal, small) with `Connection: close`, whose body ends only once the linger is over. Closing at once on
 * bytes the client is still sending makes the relay's kernel send a reset, and the client's kernel drops the answer it
 * has not read yet; reading on a while gives it time to read the answer (curl stops sending when it does), and a close
 * on an emptied receive queue is a clean FIN.
 */
export async function lingeringClose(res: Response, reader: ReadableStreamDefaultReader<Uint8Array>, maxMs = LINGER_MAX_MS, quietMs = LINGER_QUIET_MS): Promise<Response> {
  const bytes = await res.bytes();
  const headers = new Headers(res.headers);
  headers.set("connection", "close");
  // Bun frames a streamed body chunked whatever it says: a length beside it would contradict that.
  headers.delete("content-length");
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      // Enqueued at once: the answer goes out now, its end once the linger is over.
      c.enqueue(bytes);
      void linger(reader, maxMs, quietMs).then(() => c.close());
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers });
}

/** Reads and drops until the body ends, the client goes quiet, or `maxMs` passes; then stops reading. */
async function linger(reader: ReadableStreamDefaultReader<Uint8Array>, maxMs: number, quietMs: number): Promise<void> {
  const deadline = performance.now() + maxMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    for (;;) {
      const left = Math.min(quietMs, deadline - performance.now());
      if (left <= 0) break;
      const quiet = new Promise<"quiet">((resolve) => (timer = setTimeout(() => resolve("quiet"), left)));
      const r = await Promise.race([reader.read(), quiet]);
      clearTimeout(timer);
      if (r === "quiet" || r.done) break;
    }
  } catch {
    // The client went away: nothing left to wait for.
  } finally {
    clearTimeout(timer);
  }
  reader.cancel().catch(() => {});
}
