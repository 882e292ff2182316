// A raw-TCP Ollama-kind upstream whose generation answers a test scripts byte by byte (a head and then silence, an empty
// chunked body…): what a Bun.serve fake cannot send. Ollama's probes (/api/version, /api/tags) are answered normally.
import type { Socket } from "bun";

const whole = (body: string) => `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const PROBES: Record<string, string> = {
  "/api/version": JSON.stringify({ version: "0.14.0" }),
  "/api/tags": JSON.stringify({ models: [{ name: "m:latest", model: "m:latest", size: 1, digest: "x", modified_at: "2026-01-01T00:00:00Z", details: {} }] }),
  "/api/ps": JSON.stringify({ models: [] }),
};

/** What the script does with a generation request: write to the socket, end it, or leave it open (a stall). */
export type Script = (path: string, sock: Socket<{ buf: string }>) => void;

export interface ScriptedUpstream {
  url: string;
  /** The generation requests received ("POST /api/chat"). */
  requests: string[];
  /** Connections the broker closed (it hung up on a stalled answer). */
  readonly closed: number;
  script: Script;
  stop(): void;
}

export function scriptedUpstream(script: Script): ScriptedUpstream {
  const socks = new Set<Socket<{ buf: string }>>();
  let closed = 0;
  const up: ScriptedUpstream = {
    url: "",
    requests: [],
    get closed() {
      return closed;
    },
    script,
    stop() {
      for (const s of socks) s.terminate();
      server.stop(true);
    },
  };
  const server = Bun.listen<{ buf: string }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { buf: "" };
        socks.add(s);
      },
      close(s) {
        socks.delete(s);
        closed++;
      },
      data(s, d) {
        s.data.buf += d.toString();
        const end = s.data.buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = s.data.buf.slice(0, end);
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (s.data.buf.length < end + 4 + length) return;
        s.data.buf = "";
        const [method, path] = head.split(" ") as [string, string];
        const probe = PROBES[path];
        if (probe !== undefined) return void s.write(whole(probe));
        up.requests.push(`${method} ${path}`);
        up.script(path, s);
      },
    },
  });
  up.url = `http://127.0.0.1:${server.port}`;
  return up;
}
