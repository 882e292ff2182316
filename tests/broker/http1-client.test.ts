// The broker's HTTP/1.1 upstream client against real sockets: framing, keep-alive reuse, aborts, uploads, stale sockets.
import { afterEach, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { Http1Pool, IDLE_TIMEOUT_MS, MAX_IDLE, UpstreamConnError } from "../../src/broker/http1-client.ts";
import type { UpstreamReply } from "../../src/broker/upstream-client.ts";
import { Upstream } from "../../src/broker/upstream.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function upstream(url: string, extra: Partial<{ connect_timeout: string; auth_secret: string }> = {}): Upstream {
  return new Upstream({ name: "t", kind: "ollama", url, priority: 1, enabled: true, connect_timeout: "2s", first_byte_timeout: "5s", stream_idle_timeout: "5m", keep_alive: "", max_parallel: 0, auth_secret: "", auth_header: "Authorization", auth_scheme: "Bearer", ca_file: "", tls_insecure: false, ...extra }, 60_000);
}

function send(pool: Http1Pool, target: string, init: { method?: string; body?: Uint8Array | ReadableStream<Uint8Array> | null; bodyLength?: number; headers?: Headers; signal?: AbortSignal } = {}) {
  return pool.send({ method: init.method ?? "GET", target, headers: init.headers ?? null, body: init.body ?? null, bodyLength: init.bodyLength ?? -1, signal: init.signal ?? new AbortController().signal });
}

async function text(r: UpstreamReply): Promise<string> {
  return Buffer.from(await r.bytes()).toString();
}

/** A raw TCP server: `onRequest` gets each connection's bytes as they come. */
function rawServer(onData: (s: Socket<{ id: number; buf: string }>, all: string) => void) {
  const events: string[] = [];
  let next = 0;
  const srv: TCPSocketListener<{ id: number; buf: string }> = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { id: ++next, buf: "" };
        events.push(`open ${s.data.id}`);
      },
      data(s, d) {
        s.data.buf += d.toString("latin1");
        onData(s, s.data.buf);
      },
      close(s) {
        events.push(`close ${s.data.id}`);
      },
    },
  });
  cleanups.push(() => srv.stop(true));
  return { url: `http://127.0.0.1:${srv.port}`, events };
}

test("GET and POST with Content-Length bodies; the socket is kept alive and reused; Host is the upstream's", async () => {
  const ports = new Set<number>();
  const hosts: string[] = [];
  const srv = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req, server) {
      ports.add(server.requestIP(req)!.port);
      hosts.push(req.headers.get("host")!);
      const body = req.method === "POST" ? await req.text() : "";
      return Response.json({ method: req.method, url: new URL(req.url).pathname + new URL(req.url).search, body, ae: req.headers.get("accept-encoding"), x: req.headers.get("x-keep") }, { headers: { "x-up": "1" } });
    },
  });
  cleanups.push(() => srv.stop(true));
  const pool = new Http1Pool(upstream(`http://127.0.0.1:${srv.port}/base/`));
  const h = new Headers({ "x-keep": "yes", host: "evil.example", cookie: "c=1", "content-length": "999" });
  const a = await send(pool, "/api/generate?q=1", { method: "POST", body: Buffer.from('{"model":"m"}'), headers: h });
  expect(a.status).toBe(200);
  expect(a.header("x-up")).toBe("1");
  expect(JSON.parse(await text(a))).toEqual({ method: "POST", url: "/base/api/generate?q=1", body: '{"model":"m"}', ae: "identity", x: "yes" });
  const b = await send(pool, "/api/tags");
  expect(JSON.parse(await text(b)).method).toBe("GET");
  expect(ports.size).toBe(1);
  expect(hosts).toEqual([`127.0.0.1:${srv.port}`, `127.0.0.1:${srv.port}`]);
  expect(pool.idleCount).toBe(1);
  // The client's headers minus framing: what the broker passes back.
  expect(new Headers(a.clientHeaders()).has("content-length")).toBe(false);
  expect(new Headers(a.clientHeaders()).get("x-up")).toBe("1");
  pool.close();
});

test("a chunked response is handed on part by part as it arrives", async () => {
  let conn: Socket<{ id: number; buf: string }> | null = null;
  const srv = rawServer((s, all) => {
    if (all.endsWith("\r\n\r\n{}")) {
      conn = s;
      s.write("HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n6\r\n{\"a\":1\r\n");
    }
  });
  const pool = new Http1Pool(upstream(srv.url));
  const r = await send(pool, "/api/chat", { method: "POST", body: Buffer.from("{}") });
  expect(r.header("content-type")).toBe("application/x-ndjson");
  const first = await r.read();
  expect(first.done).toBe(false);
  expect(Buffer.concat(first.value).toString()).toBe('{"a":1');
  conn!.write("2\r\n}\n\r\n0\r\n\r\n");
  const rest: string[] = [];
  for (;;) {
    const x = await r.read();
    rest.push(...x.value.map((v) => Buffer.from(v).toString()));
    if (x.done) break;
  }
  expect(rest.join("")).toBe("}\n");
  expect(pool.idleCount).toBe(1);
  pool.close();
});

test("an abort while the answer streams closes the upstream socket at once", async () => {
  const srv = rawServer((s, all) => {
    if (all.endsWith("\r\n\r\n{}")) s.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n");
  });
  const pool = new Http1Pool(upstream(srv.url));
  const ac = new AbortController();
  const r = await send(pool, "/api/generate", { method: "POST", body: Buffer.from("{}"), signal: ac.signal });
  expect(Buffer.concat((await r.read()).value).toString()).toBe("abc");
  const t0 = performance.now();
  ac.abort();
  while (!srv.events.includes("close 1") && performance.now() - t0 < 2000) await Bun.sleep(5);
  expect(srv.events).toContain("close 1");
  expect(performance.now() - t0).toBeLessThan(100);
  await expect(r.read() as Promise<unknown>).rejects.toThrow();
  expect(pool.idleCount).toBe(0);
});

test("an abort before the answer's head rejects the request and closes the socket", async () => {
  const srv = rawServer(() => {});
  const pool = new Http1Pool(upstream(srv.url));
  const ac = new AbortController();
  const p = send(pool, "/api/generate", { method: "POST", body: Buffer.from("{}"), signal: ac.signal });
  while (!srv.events.includes("open 1")) await Bun.sleep(5);
  ac.abort();
  await expect(p).rejects.toThrow("aborted");
  const t0 = performance.now();
  while (!srv.events.includes("close 1") && performance.now() - t0 < 2000) await Bun.sleep(5);
  expect(srv.events).toContain("close 1");
});

test("a streamed upload goes out chunked, or with its length when known", async () => {
  const seen: { te: string | null; cl: string | null; body: string }[] = [];
  const srv = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      seen.push({ te: req.headers.get("transfer-encoding"), cl: req.headers.get("content-length"), body: await req.text() });
      return new Response("ok");
    },
  });
  cleanups.push(() => srv.stop(true));
  const pool = new Http1Pool(upstream(`http://127.0.0.1:${srv.port}`));
  const stream = () =>
    new ReadableStream<Uint8Array>({
      async start(c) {
        for (const s of ["hello ", "streamed ", "world"]) {
          c.enqueue(Buffer.from(s));
          await Bun.sleep(2);
        }
        c.close();
      },
    });
  expect(await text(await send(pool, "/api/blobs/x", { method: "POST", body: stream() }))).toBe("ok");
  expect(await text(await send(pool, "/api/blobs/y", { method: "POST", body: stream(), bodyLength: 20 }))).toBe("ok");
  expect(seen).toEqual([
    { te: "chunked", cl: null, body: "hello streamed world" },
    { te: null, cl: "20", body: "hello streamed world" },
  ]);
  pool.close();
});

test("a streamed body longer or shorter than the Content-Length its head declared fails the request: no byte past the length reaches the upstream as another request", async () => {
  // Answers once a whole request (head and the body its Content-Length names) has arrived; records every byte.
  const received: string[] = [];
  const srv = rawServer((s, all) => {
    received[s.data.id] = all;
    const end = all.indexOf("\r\n\r\n");
    const cl = Number(/content-length: (\d+)/i.exec(all)?.[1] ?? 0);
    if (end >= 0 && all.length >= end + 4 + cl && !all.includes("answered")) {
      s.data.buf += "answered";
      s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
  });
  const pool = new Http1Pool(upstream(srv.url));
  const smuggled = "GET /api/smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  const parts = (...p: string[]) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const x of p) c.enqueue(Buffer.from(x));
        c.close();
      },
    });
  // Longer: in one part with the declared bytes, and as a part after them.
  for (const body of [parts(`{}${smuggled}`), parts("{}", smuggled)]) {
    const r = await send(pool, "/api/generate", { method: "POST", body, bodyLength: 2 }).then(
      (reply) => `answered ${reply.status}`,
      (e: Error) => `${e.name}: ${e.message}`,
    );
    expect(r).toMatch(/^answered 200$|longer than the 2 bytes/);
  }
  // Shorter: the upstream would wait on the missing bytes; the request fails instead.
  const short = await send(pool, "/api/generate", { method: "POST", body: parts("{}"), bodyLength: 10 }).then(
    () => "answered",
    (e: Error) => e.message,
  );
  expect(short).toContain("8 bytes short of the 10");
  expect(received.filter(Boolean).some((all) => all.includes("/api/smuggled"))).toBe(false);
  pool.close();
});

test("a kept-alive socket the server dropped is replaced transparently for a resendable request", async () => {
  let requests = 0;
  const srv = rawServer((s, all) => {
    if (!all.endsWith("\r\n\r\n{}")) return;
    s.data.buf = "";
    requests++;
    // The first connection answers once, then closes on its next request without a word (a keep-alive race).
    if (s.data.id === 1 && requests > 1) return void s.end();
    s.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  });
  const pool = new Http1Pool(upstream(srv.url));
  expect(await text(await send(pool, "/a", { method: "POST", body: Buffer.from("{}") }))).toBe("ok");
  expect(await text(await send(pool, "/b", { method: "POST", body: Buffer.from("{}") }))).toBe("ok");
  expect(srv.events.filter((e) => e.startsWith("open"))).toEqual(["open 1", "open 2"]);
  pool.close();
});

test("idle sockets: at most maxIdle are kept, and they close after the idle timeout", async () => {
  const srv = rawServer((s, all) => {
    if (all.endsWith("\r\n\r\n")) {
      s.data.buf = "";
      setTimeout(() => s.write("HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx"), 10);
    }
  });
  const pool = new Http1Pool(upstream(srv.url), { maxIdle: 1, idleTimeoutMs: 100 });
  await Promise.all([send(pool, "/1").then(text), send(pool, "/2").then(text)]);
  expect(pool.idleCount).toBe(1);
  const t0 = performance.now();
  while (srv.events.filter((e) => e.startsWith("close")).length < 2 && performance.now() - t0 < 3000) await Bun.sleep(10);
  expect(srv.events.filter((e) => e.startsWith("close"))).toHaveLength(2);
  expect(pool.idleCount).toBe(0);
});

test("the pool's defaults are docs/broker.md's: up to 32 idle sockets per upstream, each closed after 4 s idle", async () => {
  expect([MAX_IDLE, IDLE_TIMEOUT_MS]).toEqual([32, 4000]);
  // A pool made without options keeps 32 of 33 sockets that finish together (the 33rd is closed at once).
  const srv = rawServer((s, all) => {
    if (all.endsWith("\r\n\r\n")) {
      s.data.buf = "";
      setTimeout(() => s.write("HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx"), 50);
    }
  });
  const pool = new Http1Pool(upstream(srv.url));
  await Promise.all(Array.from({ length: 33 }, (_, i) => send(pool, `/${i}`).then(text)));
  expect(pool.idleCount).toBe(32);
  pool.close();
});

test("failures are UpstreamConnErrors: refused, invalid response, closed mid-body", async () => {
  const dead = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const deadPort = dead.port;
  dead.stop(true);
  const refused = await send(new Http1Pool(upstream(`http://127.0.0.1:${deadPort}`)), "/").catch((e) => e);
  expect(refused).toBeInstanceOf(UpstreamConnError);
  expect(refused).toMatchObject({ code: "upstream_connection", errno: "ECONNREFUSED", message: "connection refused" });

  const garbage = rawServer((s) => void s.write("SSH-2.0-OpenSSH\r\n\r\n"));
  const bad = await send(new Http1Pool(upstream(garbage.url)), "/").catch((e) => e);
  expect(bad).toMatchObject({ code: "upstream_connection", errno: "EPROTO" });
  expect(bad.message).toContain("invalid HTTP response");

  const cut = rawServer((s) => {
    s.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial");
    setTimeout(() => s.end(), 10);
  });
  const r = await send(new Http1Pool(upstream(cut.url)), "/");
  await expect(r.bytes()).rejects.toThrow("closed in the middle of the response body");
});

test("a slow reader pauses the socket: the upstream's writes back up instead of the broker's memory", async () => {
  const total = 32 * 1024 * 1024;
  let sent = 0;
  const block = Buffer.alloc(64 * 1024, 120);
  const srv = Bun.listen<{ pump(): void }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(s) {
        s.data = {
          pump() {
            while (sent < total) {
              const n = s.write(block);
              sent += Math.max(0, n);
              if (n < block.byteLength) return;
            }
          },
        };
        s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${total}\r\n\r\n`);
        s.data.pump();
      },
      drain(s) {
        s.data?.pump();
      },
    },
  });
  cleanups.push(() => srv.stop(true));
  const pool = new Http1Pool(upstream(`http://127.0.0.1:${srv.port}`));
  const r = await send(pool, "/big");
  await Bun.sleep(300);
  // Without the pause the whole 32 MB would have been read into the queue by now.
  expect(sent).toBeLessThan(total / 2);
  let got = 0;
  for (;;) {
    const x = await r.read();
    for (const v of x.value) got += v.byteLength;
    if (x.done) break;
  }
  expect(got).toBe(total);
  pool.close();
});

test("connect_timeout is enforced: a blackholed upstream fails after it, not after first_byte_timeout", async () => {
  const { blackhole } = await import("./blackhole.ts");
  const hole = await blackhole();
  cleanups.push(() => hole.close());
  const pool = new Http1Pool(upstream(`http://127.0.0.1:${hole.port}`, { connect_timeout: "200ms" }));
  const t0 = performance.now();
  const e = await send(pool, "/api/tags").catch((x) => x);
  const ms = performance.now() - t0;
  expect(e).toBeInstanceOf(UpstreamConnError);
  expect(e).toMatchObject({ code: "upstream_connection", errno: "ETIMEDOUT", message: "no connection within 200ms (connect_timeout)" });
  expect(ms).toBeGreaterThanOrEqual(190);
  expect(ms).toBeLessThan(2000);
});

test("a large buffered body goes out whole across partial writes; HEAD answers have no body", async () => {
  const srv = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      if (req.method === "HEAD") return new Response(null, { headers: { "content-length": "1234", "x-h": "1" } });
      const b = await req.bytes();
      return new Response(`${b.byteLength} ${b[0]} ${b[b.byteLength - 1]}`);
    },
  });
  cleanups.push(() => srv.stop(true));
  const pool = new Http1Pool(upstream(`http://127.0.0.1:${srv.port}`));
  const big = new Uint8Array(6 * 1024 * 1024).fill(7);
  big[big.byteLength - 1] = 9;
  expect(await text(await send(pool, "/api/blobs/x", { method: "POST", body: big }))).toBe(`${big.byteLength} 7 9`);
  const h = await send(pool, "/api/tags", { method: "HEAD" });
  expect([h.status, h.hasBody, h.header("x-h"), (await h.bytes()).byteLength]).toEqual([200, false, "1", 0]);
  // Both on the one kept-alive socket: the HEAD answer's Content-Length did not make the client wait for a body.
  expect(await text(await send(pool, "/again", { method: "POST", body: Buffer.from("x") }))).toBe("1 120 120");
  expect(pool.idleCount).toBe(1);
  pool.close();
});

test("a socket whose server sent bytes beyond its answer (a second response, a body longer than its Content-Length) is never reused: the next caller gets its own answer", async () => {
  // A desynced proxy: request 1 on a socket is answered twice (the second a response to a request never sent), or with
  // more body than its length; on a reused socket it hands the queued answer to whoever asks next.
  const smuggled = "HTTP/1.1 200 OK\r\ncontent-length: 14\r\n\r\n{\"who\":\"nobody\"";
  const sized = (body: string) => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
  const chunked = (body: string) => `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  for (const [answer, extra] of [[sized, smuggled], [sized, "0123456789"], [chunked, smuggled]] as const) {
    const srv = rawServer((s, all) => {
      if (!all.endsWith("\r\n\r\n")) return;
      const asked = [...all.matchAll(/GET \/(\w+)/g)].map((m) => m[1]!);
      const body = JSON.stringify({ who: asked.at(-1) });
      // The first request on each socket gets the extra bytes in the same write as its answer; later ones get the queued reply.
      if (asked.length === 1) s.write(answer(body) + extra);
      else s.write(`HTTP/1.1 200 OK\r\ncontent-length: 17\r\n\r\n{"who":"caller1"}`);
    });
    const pool = new Http1Pool(upstream(srv.url));
    expect(JSON.parse(await text(await send(pool, "/caller1")))).toEqual({ who: "caller1" });
    expect(JSON.parse(await text(await send(pool, "/caller2")))).toEqual({ who: "caller2" });
    expect(srv.events.filter((e) => e.startsWith("open"))).toEqual(["open 1", "open 2"]);
    pool.close();
  }
});

test("bytes an idle kept-alive socket receives (a late second answer) close it: the next caller gets a new connection and its own answer", async () => {
  const srv = rawServer((s, all) => {
    if (!all.endsWith("\r\n\r\n")) return;
    const asked = [...all.matchAll(/GET \/(\w+)/g)].map((m) => m[1]!);
    const body = JSON.stringify({ who: asked.at(-1) });
    s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    // A response to a request never sent, a moment later, while the socket idles in the pool.
    if (asked.length === 1) setTimeout(() => s.write(`HTTP/1.1 200 OK\r\ncontent-length: 17\r\n\r\n{"who":"caller1"}`), 30);
  });
  const pool = new Http1Pool(upstream(srv.url));
  expect(JSON.parse(await text(await send(pool, "/caller1")))).toEqual({ who: "caller1" });
  await Bun.sleep(100);
  expect(pool.idleCount).toBe(0);
  expect(JSON.parse(await text(await send(pool, "/caller2")))).toEqual({ who: "caller2" });
  expect(srv.events.filter((e) => e.startsWith("open"))).toEqual(["open 1", "open 2"]);
  pool.close();
});
