// The least a Bun reverse proxy can do per request, for bench/front-end.ts: one keep-alive upstream pool behind either
// Bun.serve (Request/Response objects) or Bun.listen (raw HTTP/1.1 bytes), so the two front ends differ in nothing else.
//   bun bench/lib/minimal-proxy.ts --front serve|listen --upstream http://127.0.0.1:PORT
// Bench only: the raw front end reads sized bodies and keep-alive, nothing more (no chunked bodies, no limits).
import type { Socket } from "bun";
import { parseArgs } from "node:util";
import { headerValue, ResponseParser, type ResponseHead } from "../../src/broker/http1-parser.ts";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { front: { type: "string" }, upstream: { type: "string" } } });
const up = new URL(values.upstream!);
const enc = new TextEncoder();

interface Reply {
  head: ResponseHead;
  body: Uint8Array;
}
interface UpConn {
  sock: Socket<UpConn>;
  /** One parser per response: made when the request goes out. */
  parser: ResponseParser | null;
  closed?: boolean;
}
const idle: UpConn[] = [];

async function connectUp(): Promise<UpConn> {
  const c = { parser: null } as UpConn;
  c.sock = await Bun.connect<UpConn>({
    hostname: up.hostname,
    port: Number(up.port),
    data: c,
    socket: {
      data: (s, d) => s.data.parser?.push(d),
      // The upstream closes idle keep-alive sockets (nginx after keepalive_timeout): never hand one out again.
      close: (s) => {
        const i = idle.indexOf(s.data);
        if (i >= 0) idle.splice(i, 1);
        s.data.closed = true;
      },
      error: () => {},
    },
  });
  return c;
}

async function forward(method: string, target: string, contentType: string | null, body: Uint8Array | null): Promise<Reply> {
  let c = idle.pop();
  while (c?.closed) c = idle.pop();
  c ??= await connectUp();
  const head = `${method} ${target} HTTP/1.1\r\nhost: ${up.host}\r\n${contentType ? `content-type: ${contentType}\r\n` : ""}content-length: ${body?.length ?? 0}\r\n\r\n`;
  return new Promise<Reply>((resolve) => {
    let rhead: ResponseHead;
    const parts: Uint8Array[] = [];
    c.parser = new ResponseParser(
      {
        onHead: (h) => (rhead = h),
        onBody: (p) => parts.push(p.slice()),
        onEnd: () => {
          c.parser = null;
          idle.push(c);
          resolve({ head: rhead, body: parts.length === 1 ? parts[0]! : Buffer.concat(parts) });
        },
      },
      method === "HEAD",
    );
    c.sock.write(body?.length ? Buffer.concat([enc.encode(head), body]) : head);
  });
}


if (values.front === "serve") {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const u = req.url;
      const target = u.slice(u.indexOf("/", u.indexOf("//") + 2));
      const body = req.body ? await req.bytes() : null;
      const r = await forward(req.method, target, req.headers.get("content-type"), body);
      return new Response(r.body as Uint8Array<ArrayBuffer>, { status: r.head.status, headers: { "content-type": headerValue(r.head.headers, "content-type") ?? "application/octet-stream" } });
    },
  });
  console.log(`minimal-proxy serve: listening url=http://127.0.0.1:${server.port}`);
} else {
  interface Front {
    buf: Buffer | null;
  }
  const CRLF2 = Buffer.from("\r\n\r\n");
  const server = Bun.listen<Front>({
    hostname: "127.0.0.1",
    port: 0,
    data: { buf: null },
    socket: {
      open: (s) => void (s.data = { buf: null }),
      data(s, d) {
        s.data.buf = s.data.buf ? Buffer.concat([s.data.buf, d]) : Buffer.from(d);
        void drain(s);
      },
      close: () => {},
      error: () => {},
    },
  });
  // One request at a time per connection (wrk does not pipeline).
  const drain = async (s: Socket<Front>) => {
    const buf = s.data.buf!;
    const end = buf.indexOf(CRLF2);
    if (end < 0) return;
    const head = buf.toString("latin1", 0, end);
    const lines = head.split("\r\n");
    const [method, target] = lines[0]!.split(" ");
    let length = 0;
    let contentType: string | null = null;
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i]!;
      const colon = l.indexOf(":");
      const name = l.slice(0, colon).toLowerCase();
      if (name === "content-length") length = Number(l.slice(colon + 1).trim());
      else if (name === "content-type") contentType = l.slice(colon + 1).trim();
    }
    if (buf.length < end + 4 + length) return;
    s.data.buf = buf.length > end + 4 + length ? buf.subarray(end + 4 + length) : null;
    const r = await forward(method!, target!, contentType, length ? buf.subarray(end + 4, end + 4 + length) : null);
    const ct = headerValue(r.head.headers, "content-type") ?? "application/octet-stream";
    s.write(Buffer.concat([enc.encode(`HTTP/1.1 ${r.head.status} ${r.head.statusText}\r\ncontent-type: ${ct}\r\ncontent-length: ${r.body.length}\r\n\r\n`), r.body]));
  };
  console.log(`minimal-proxy listen: listening url=http://127.0.0.1:${server.port}`);
}
