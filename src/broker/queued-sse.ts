// The early head of a streaming OpenAI request that has to wait in the queue: 200 with text/event-stream at once, SSE
// comments while it waits (clients and proxies see a live connection), then the upstream's events, or an error event.
import { ERROR_CODE_HEADER, errorBody, type ErrorCode } from "../core/http-error.ts";
import { sseText } from "../core/sse-text.ts";

const enc = new TextEncoder();
/** How often a waiting request says it is still there. */
export const QUEUED_COMMENT_MS = 5000;

export function queuedSseResponse(pending: Promise<Response>, position: number, commentMs = QUEUED_COMMENT_MS): Response {
  let timer: ReturnType<typeof setInterval> | null = null;
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let started = false;
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(enc.encode(`: queued at position ${position}\n\n`));
      timer = setInterval(() => {
        try {
          c.enqueue(enc.encode(": still queued\n\n"));
        } catch {
          stop();
        }
      }, commentMs);
    },
    async pull(c) {
      if (!started) {
        started = true;
        const res = await pending;
        stop();
        if (res.status !== 200 || !res.body) {
          // The status line is gone: the failure travels as an SSE error event in OpenAI's shape, with its stable code.
          const code = (res.headers.get(ERROR_CODE_HEADER) ?? "upstream_error") as ErrorCode;
          let message = `the request failed with HTTP ${res.status}`;
          try {
            const j = (await res.json()) as { error?: { message?: string } | string };
            message = typeof j.error === "string" ? j.error : (j.error?.message ?? message);
          } catch {}
          if (res.status !== 499) c.enqueue(enc.encode(sseText("error", errorBody("openai", code, message, res.status))));
          c.close();
          return;
        }
        reader = res.body.getReader();
      }
      const r = await reader!.read();
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    cancel() {
      stop();
      void reader?.cancel();
      // Still queued: the request's own signal takes it out of the queue (the client is gone); its answer is dropped.
      void pending.then((res) => res.body?.cancel()).catch(() => {});
    },
  });
  return new Response(body, { status: 200, headers: { "content-type": "text/event-stream", "cache-control": "no-cache", "x-queue-position": String(position) } });
}
