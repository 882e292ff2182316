// A broken or hostile upstream (a compromised LAN box answering as Ollama) against a real daemon: its model lists and
// probes are never followed to another address, nor read past a cap, and the caller gets a 502 naming the problem.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Socket } from "bun";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { rssMiB } from "../tunnel/helpers.ts";
import { startFakeOllama } from "../helpers/fake-ollama.ts";

/** A socket's writer waiting for drain (an answer too large for one write). */
type Conn = Socket<(() => void) | undefined>;
/** What the hostile upstream answers on each path: a raw head and body writer. */
type Answer = (s: Conn) => void;
const answers = new Map<string, Answer>();
const whole = (body: string, status = "200 OK", extra = "") => (s: Conn) =>
  void s.write(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`);

let hostile: { port: number; stop(closeActive?: boolean): void };
/** A server the hostile upstream points its redirects at (the control API, a metadata service): never to be reached. */
let trap: ReturnType<typeof Bun.serve>;
const trapped: string[] = [];
let d: DaemonProc;

beforeAll(async () => {
  trap = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      trapped.push(`${req.method} ${new URL(req.url).pathname} key=${req.headers.get("x-upstream-key")}`);
      return Response.json({ models: [{ name: "from-the-trap", model: "from-the-trap" }], data: [{ id: "from-the-trap" }] });
    },
  });
  hostile = Bun.listen<(() => void) | undefined>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      drain(s) {
        s.data?.();
      },
      data(s, chunk) {
        const path = chunk.toString("latin1").split(" ")[1] ?? "";
        const a = answers.get(path);
        if (a) return a(s);
        whole(path === "/api/version" ? '{"version":"0.14.0"}' : path === "/api/tags" ? '{"models":[{"name":"m:latest","model":"m:latest"}]}' : '{"models":[]}')(s);
      },
    },
  });
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n[health]\ninterval = "1s"\ntimeout = "10s"\n[[upstreams]]\nname = "lan"\nurl = "http://127.0.0.1:${hostile.port}"\nauth_secret = "sk-upstream-secret"\nauth_header = "X-Upstream-Key"\n`,
    waitFor: ["api", "broker"],
  });
}, 30_000);

afterAll(async () => {
  await d?.stop();
  hostile?.stop(true);
  trap?.stop(true);
  if (d) removeHome(d.home);
});

test("a listing answered with a redirect (to the control API, a metadata address) is a 502 naming the status; the broker never follows it, with or without the upstream's key", async () => {
  const to = `http://127.0.0.1:${trap.port}/latest/meta-data`;
  for (const path of ["/api/tags", "/api/ps", "/v1/models"]) answers.set(path, whole("", "302 Found", `location: ${to}\r\n`));
  try {
    for (const [path, dialect] of [["/api/tags", "ollama"], ["/api/ps", "ollama"], ["/v1/models", "openai"]] as const) {
      const res = await fetch(`${d.urls.broker}${path}`);
      const text = await res.text();
      // Followed, the redirect gave the trap's list to the caller, and the upstream's key to the trap (fetch drops only
      // Authorization on a redirect to another origin, not a custom auth_header).
      expect({ path, trapped }).toEqual({ path, trapped: [] });
      expect(text).not.toContain("from-the-trap");
      const j = JSON.parse(text);
      const message: string = dialect === "openai" ? j.error.message : j.error;
      expect({ path, status: res.status, message }).toEqual({ path, status: 502, message: 'no upstream answered with its model list: upstream "lan" answered 302' });
    }
    // Health checks (every second here) read the same routes: none of them went to the trap either.
    await Bun.sleep(1500);
    expect(trapped).toEqual([]);
  } finally {
    answers.clear();
  }
});

test("a model list of hundreds of MiB (one model name of that size) is a 502 naming the cap; the daemon's memory stays far below the list's size", async () => {
  const SIZE = 320 * 1024 * 1024;
  const piece = Buffer.alloc(1024 * 1024, "a");
  // Close-delimited, written as the socket drains: nothing tells the broker the size up front.
  answers.set("/api/tags", (s) => {
    s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"models":[{"name":"`);
    let sent = 0;
    let rest: Uint8Array = piece;
    // Written as the socket drains (drain calls it again): the name, then the list's end.
    const more = () => {
      while (sent < SIZE) {
        const n = s.write(rest);
        if (n < rest.byteLength) {
          rest = rest.subarray(Math.max(0, n));
          return;
        }
        sent += piece.byteLength;
        rest = piece;
      }
      s.data = undefined;
      s.end('"}]}');
    };
    s.data = more;
    more();
  });
  try {
    const before = rssMiB(d.proc.pid).rss;
    const res = await fetch(`${d.urls.broker}/api/tags`);
    const body = (await res.json()) as { error: string };
    expect(res.status).toBe(502);
    expect(body.error).toContain("/api/tags is over 33554432 bytes");
    const peak = rssMiB(d.proc.pid).hwm;
    // Holding the list (and its text, and the parsed name) would take several times its 320 MiB.
    expect(peak - before).toBeLessThan(250);
  } finally {
    answers.clear();
  }
}, 60_000);

test("listed names with terminal escapes, line breaks, bidi overrides or of absurd length are left out of the listings and the daemon's model index; an entry named only by `model` does not fail the list", async () => {
  const bad = ["evil\x1b]0;owned\x07\x1b[2J", "two\nlines", "a\u202Egpj.exe", "x".repeat(5000), ""];
  const entry = (name: string) => ({ name, model: name, size: 1, digest: "d", modified_at: "2026-01-01T00:00:00Z", details: {} });
  const list = JSON.stringify({ models: [entry("good:latest"), ...bad.map(entry), { model: "only-model:latest" }, null, { name: 42 }] });
  answers.set("/api/tags", whole(list));
  answers.set("/v1/models", whole(JSON.stringify({ object: "list", data: [...["good:latest", ...bad].map((id) => ({ id, object: "model" })), { id: null }] })));
  try {
    const tags = await fetch(`${d.urls.broker}/api/tags`);
    expect(tags.status).toBe(200);
    expect(((await tags.json()) as { models: { name?: string; model?: string }[] }).models.map((m) => m.name ?? m.model)).toEqual(["good:latest", "only-model:latest"]);
    const v1 = (await (await fetch(`${d.urls.broker}/v1/models`)).json()) as { data: { id: string }[] };
    expect(v1.data.map((m) => m.id)).toEqual(["good:latest"]);
    // What `models`, `status` and the dashboard show: the index the control API serves, from the listing and the checks.
    const index = (await (await fetch(`${d.urls.api}/api/v1/models`)).json()) as { name: string }[];
    expect(index.map((m) => m.name)).toEqual(["good:latest", "only-model:latest"]);
  } finally {
    answers.clear();
  }
});

test("an upstream's redirect of a generation is a 502 naming it, never passed on: the official Anthropic client would re-send the prompt where the upstream points", async () => {
  const { default: Anthropic } = await import("@anthropic-ai/sdk");
  const elsewhere = `http://127.0.0.1:${trap.port}/v1/messages`;
  for (const path of ["/v1/messages", "/api/chat", "/v1/chat/completions"]) answers.set(path, whole("", "307 Temporary Redirect", `location: ${elsewhere}\r\n`));
  try {
    const client = new Anthropic({ apiKey: "unused", baseURL: d.urls.broker, maxRetries: 0 });
    const err = await client.messages.create({ model: "m:latest", max_tokens: 5, messages: [{ role: "user", content: "a private prompt" }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect((err as InstanceType<typeof Anthropic.InternalServerError>).status).toBe(502);
    expect(String((err as Error).message)).toContain('upstream "lan" answered 307, a redirect, which the broker neither follows nor passes on');
    // Any client, whatever it does with redirects: the answer carries no Location.
    const res = await fetch(`${d.urls.broker}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "m:latest", messages: [{ role: "user", content: "x" }] }), redirect: "manual" });
    expect({ status: res.status, location: res.headers.get("location") }).toEqual({ status: 502, location: null });
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("upstream_error");
    expect(trapped).toEqual([]);
  } finally {
    answers.clear();
  }
});

const DONE = JSON.stringify({ model: "m:latest", message: { role: "assistant", content: "hi" }, done: true, done_reason: "stop" });
const sized = (head: string, body = DONE) => `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${head}content-length: ${body.length}\r\n\r\n${body}`;

test("odd but valid framing reaches the caller as the answer; what acts on the broker's whole origin is dropped; a body shorter than its length is a 502 naming it", async () => {
  const cases: { name: string; raw: string; close?: boolean; status: number; body?: string; error?: string }[] = [
    { name: "100 and 103 before the answer", raw: `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>; rel=preload\r\n\r\n${sized("")}`, status: 200, body: DONE },
    { name: "5000 headers", raw: sized("x-h: 1\r\n".repeat(5000)), status: 200, body: DONE },
    { name: "chunked with extensions and trailers", raw: `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n${DONE.length.toString(16)};ext=1\r\n${DONE}\r\n0\r\nset-cookie: t=1\r\nx-trailer: 1\r\n\r\n`, status: 200, body: DONE },
    { name: "HTTP/1.0 claiming keep-alive, no length", raw: `HTTP/1.0 200 OK\r\ncontent-type: application/json\r\nconnection: keep-alive\r\n\r\n${DONE}`, close: true, status: 200, body: DONE },
    { name: "Content-Length longer than the body", raw: `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${DONE.length + 50}\r\n\r\n${DONE}`, close: true, status: 502, error: 'upstream "lan" broke off the response: connection closed in the middle of the response body' },
    { name: "a head that never ends", raw: `HTTP/1.1 200 OK\r\n${"x-long: ".padEnd(70_000, "a")}`, status: 502, error: "response head larger than 65536 bytes" },
  ];
  try {
    for (const c of cases) {
      answers.set("/api/chat", (s) => {
        s.write(Buffer.from(c.raw, "latin1"));
        if (c.close) s.end();
      });
      const res = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "m:latest", messages: [{ role: "user", content: "x" }], stream: false }) });
      const text = await res.text();
      expect({ name: c.name, status: res.status }).toEqual({ name: c.name, status: c.status });
      if (c.body) expect({ name: c.name, text }).toEqual({ name: c.name, text: c.body });
      if (c.error) expect({ name: c.name, error: (JSON.parse(text) as { error: string }).error }).toEqual({ name: c.name, error: expect.stringContaining(c.error) });
      expect(res.headers.get("set-cookie")).toBeNull();
    }
    answers.set("/api/chat", (s) => void s.write(Buffer.from(sized('set-cookie: c2l_session=evil; Path=/\r\nclear-site-data: "*"\r\nstrict-transport-security: max-age=0\r\nx-latin: caf\xe9\r\n'), "latin1")));
    const res = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m:latest", messages: [], stream: false }) });
    expect(await res.text()).toBe(DONE);
    expect({ cookie: res.headers.get("set-cookie"), clear: res.headers.get("clear-site-data"), hsts: res.headers.get("strict-transport-security"), latin: res.headers.get("x-latin") }).toEqual({ cookie: null, clear: null, hsts: null, latin: "café" });
  } finally {
    answers.clear();
  }
});

test("a model list nested too deeply to serialize fails that upstream's part alone: the other upstream's models are listed, not a 500 for everyone", async () => {
  const home = await startFakeOllama({ models: ["home-model:latest"] });
  const both = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n[[upstreams]]\nname = "lan"\nurl = "http://127.0.0.1:${hostile.port}"\npriority = 1\n[[upstreams]]\nname = "home"\nurl = "${home.url}"\npriority = 2\n`,
    waitFor: ["api", "broker"],
  });
  const deep = "[".repeat(200_000) + "]".repeat(200_000);
  answers.set("/api/tags", whole(`{"models":[{"name":"deep:latest","model":"deep:latest","details":${deep}}]}`));
  try {
    const res = await fetch(`${both.urls.broker}/api/tags`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { models: { name: string }[] }).models.map((m) => m.name)).toEqual(["home-model:latest"]);
    // Alone, it is the listing's 502 naming why.
    const one = await fetch(`${d.urls.broker}/api/tags`);
    expect({ status: one.status, body: await one.json() }).toEqual({ status: 502, body: { error: 'no upstream answered with its model list: upstream "lan" answered a model list the broker cannot use: its /api/tags is nested too deeply to pass on' } });
  } finally {
    answers.clear();
    await both.stop();
    await home.stop();
    removeHome(both.home);
  }
}, 30_000);

test("a streamed answer whose chunk-size line or extension runs on (20 KB) ends with an error line naming it, after what came", async () => {
  const line = JSON.stringify({ model: "m:latest", message: { role: "assistant", content: "a" }, done: false }) + "\n";
  for (const runOn of ["0".repeat(20_000) + "1\r\n", `1;${"e".repeat(20_000)}\r\n`]) {
    answers.set("/api/chat", (s) => {
      s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n${line.length.toString(16)}\r\n${line}\r\n`);
      setTimeout(() => s.write(runOn), 30);
    });
    try {
      const res = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m:latest", messages: [] }) });
      const lines = (await res.text()).trim().split("\n");
      expect(lines[0] + "\n").toBe(line);
      expect(JSON.parse(lines.at(-1)!)).toEqual({ error: 'upstream "lan" broke off the response: invalid HTTP response: chunk or trailer line too long' });
    } finally {
      answers.clear();
    }
  }
});
