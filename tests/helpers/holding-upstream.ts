// A fake Ollama upstream for memory tests: generate streams that send one line and then wait until released (so they
// stay open as long as a test wants), quick generations while `hold` is off, and blob uploads drained and counted.
const enc = new TextEncoder();
const LINE = (done: boolean) => `${JSON.stringify(done ? { model: "m:latest", response: "", done: true, eval_count: 1 } : { model: "m:latest", response: "x", done: false })}\n`;

export interface HoldingUpstream {
  url: string;
  /** Whether generations are held open (on by default); off, each answers at once with one token. */
  state: { hold: boolean };
  /** Generate streams open now. */
  readonly open: number;
  /** Bytes of blob uploads received so far. */
  readonly received: number;
  /** Ends every held stream, and holds the next ones again. */
  releaseAll(): void;
  stop(): void;
}

export function holdingUpstream(): HoldingUpstream {
  let release!: () => void;
  let released = new Promise<void>((r) => (release = r));
  let open = 0;
  let received = 0;
  const state = { hold: true };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/version") return Response.json({ version: "0.6.0" });
      if (path === "/api/tags") return Response.json({ models: [{ name: "m:latest", model: "m:latest", size: 1, digest: "x", modified_at: new Date().toISOString(), details: {} }] });
      if (path === "/api/ps") return Response.json({ models: [] });
      if (path.startsWith("/api/blobs/") && req.body) {
        for await (const c of req.body) received += c.byteLength;
        return new Response(null, { status: 201 });
      }
      if (path !== "/api/generate") return new Response("not found", { status: 404 });
      await req.arrayBuffer();
      if (!state.hold) return Response.json({ model: "m:latest", response: "x", done: true, eval_count: 1 });
      const gate = released;
      open++;
      return new Response(
        new ReadableStream({
          async start(c) {
            c.enqueue(enc.encode(LINE(false)));
            await gate;
            c.enqueue(enc.encode(LINE(true)));
            c.close();
            open--;
          },
        }),
        { headers: { "content-type": "application/x-ndjson" } },
      );
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    state,
    get open() {
      return open;
    },
    get received() {
      return received;
    },
    releaseAll() {
      release();
      released = new Promise<void>((r) => (release = r));
    },
    stop: () => server.stop(true),
  };
}
