// Guard: every listener of a real daemon and a real relay cluster node, sent what no client should send; each answers in its own shape (never Bun's error page) and every line either process writes is one log line.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../bench/lib/proc.ts";
import { REPO, removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { cleanup } from "../tunnel/helpers.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startClusterNode, writeClusterSecret, type ClusterNode } from "../relay/cluster-helpers.ts";

// Real processes on a busy machine: more than bun's 5 s default.
setDefaultTimeout(60_000);

/** A plain log line (stderr is a pipe here): ISO time, level, component, message. */
const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) [\w.-]+: \S/;

/** What no client should send, each on its own connection. */
const ABUSE: [string, string][] = [
  ["HTTP/1.0 without Host", "GET /internal/tunnels HTTP/1.0\r\n\r\n"],
  ["HTTP/1.0 without Host, a body", "POST /api/chat HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}"],
  ["CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"],
  ["a Host that is no host", "GET /healthz HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n"],
  ["a Host with userinfo", "GET /healthz HTTP/1.1\r\nHost: evil@127.0.0.1\r\nConnection: close\r\n\r\n"],
  ["a fragment", "GET /healthz#x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"],
  ["two Hosts", "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.2\r\nConnection: close\r\n\r\n"],
  ["not HTTP", "GARBAGE\r\n\r\n"],
  ["a broken JSON body", "POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{{{{{"],
  ["a bad percent-escape", "GET /%ff%fe/%zz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"],
  ["a WebSocket upgrade with a bad key", "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n"],
  ["a header too large", `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"a".repeat(100_000)}\r\nConnection: close\r\n\r\n`],
];

/** Sends `raw` on a new connection; everything received until the server closes it (or 5 s pass). */
function exchange(port: number, raw: string): Promise<string> {
  return new Promise((resolve) => {
    let out = "";
    const s = connect({ host: "127.0.0.1", port }, () => s.write(raw));
    s.setEncoding("latin1");
    s.on("data", (d) => (out += d));
    s.on("end", () => resolve(out));
    s.on("error", () => resolve(out));
    setTimeout(() => (s.destroy(), resolve(out)), 5000);
  });
}

let daemon: DaemonProc;
/** An upstream whose streams break off after two tokens: a response body that fails half-way. */
let upstream: FakeOllama;
let node: ClusterNode;
let dir = "";
beforeAll(async () => {
  upstream = await startFakeOllama({ models: ["m:1b"], tokens: 10, tokenDelayMs: 5, dieAfterTokens: 2 });
  daemon = await startDaemon({ config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "${upstream.url}"\n`, waitFor: ["api", "broker"] });
  dir = mkdtempSync(join(tmpdir(), "c2l-abuse-"));
  // A cluster node whose Redis is not there: it starts (not ready) with both its listeners, which is all this needs.
  node = await startClusterNode({ redisUrl: `redis://127.0.0.1:${freePort()}/0`, id: "n1", secretFile: writeClusterSecret(dir), dir });
});
afterAll(async () => {
  await daemon?.stop();
  if (daemon) removeHome(daemon.home);
  await node?.stop();
  await upstream?.stop();
  if (dir) cleanup(dir);
});

test("each listener answers what no client should send in its own shape: never a 500, never Bun's error page or a stack", async () => {
  const listeners: [string, number][] = [
    ["broker", Number(new URL(daemon.urls.broker!).port)],
    ["api", Number(new URL(daemon.urls.api!).port)],
    ["relay", node.port],
    // Before: Bun's 500 page quoting the relay's source (input "/internal/tunnels", internal-server.ts:62) to anyone who reaches the port.
    ["relay internal", Number(new URL(node.internalUrl).port)],
  ];
  const seen: string[] = [];
  for (const [listener, port] of listeners)
    for (const [what, raw] of ABUSE) {
      const answer = await exchange(port, raw);
      const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(answer)?.[1] ?? 0);
      seen.push(`${listener}, ${what}: ${status}${/__bunfallback|\n\s+at \S/.test(answer) ? " with Bun's error page" : ""}`);
    }
  expect(seen.filter((s) => / 500|: 0$|error page/.test(s))).toEqual([]);
});

test("a streamed answer whose body fails half-way (the upstream broke off) ends in the caller's dialect: no HTML page, no stack", async () => {
  const ask = (path: string) =>
    fetch(`${daemon.urls.broker}${path}`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: true }) });
  const ollama = await (await ask("/api/chat")).text();
  const openai = await (await ask("/v1/chat/completions")).text();
  // Tokens first, then the error as the dialect's last line (Ollama: a JSON line; OpenAI: an SSE error event).
  expect(ollama).toContain('"content":"tok0 "');
  expect(JSON.parse(ollama.trimEnd().split("\n").at(-1)!)).toEqual({ error: expect.stringContaining('upstream "local" broke off the response') });
  expect(openai).toContain('"content":"tok0 "');
  expect(openai).toMatch(/event: error\ndata: \{"error":\{"message":"upstream \\"local\\" broke off the response/);
  for (const body of [ollama, openai]) expect(body).not.toMatch(/<html|\.ts:\d+|\n\s+at \S/i);
  // Its log line is in before the next test reads the whole log.
  await daemon.waitFor(/request: 200 POST \/v1\/chat\/completions .*broke off/, 5000);
});

test("everything the daemon and the relay wrote meanwhile is one log line per event (no stack, no source excerpt)", async () => {
  // Each process answered every request above; what they wrote about them is in by now (the relay's last refusal line
  // is waited for: it may trail the answer through the pipe).
  await node.waitFor(/internal request refused/, 5000);
  for (const [name, text] of [["daemon", daemon.stderr()], ["relay", node.stderr()]] as const) {
    const bad = text.split("\n").filter((l) => l !== "" && !LOG_LINE.test(l));
    expect({ name, bad }).toEqual({ name, bad: [] });
  }
});

/**
 * Each Bun.serve call in `source`: its line number and its options object's own text (nested objects and handler bodies
 * left out). Strings and comments are blanked first: an `error:` inside a handler's body, or in a comment, is not an option.
 */
function serveOptions(source: string): { line: number; own: string }[] {
  const blank = (m: string) => m.replace(/[^\n]/g, " ");
  const text = source.replace(/\/\/[^\n]*|\/\*[\s\S]*?\*\/|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`/g, blank);
  const calls: { line: number; own: string }[] = [];
  for (const m of text.matchAll(/\bBun\.serve\s*(?:<[^>]*>)?\s*\(\s*\{/g)) {
    let depth = 0;
    let own = "";
    for (let i = m.index + m[0].length - 1; i < text.length; i++) {
      const c = text[i]!;
      if ("{([".includes(c)) {
        // A method's parameter list opens at the options' own level: `error(e) {` is a hook as `error: (e) =>` is.
        if (depth === 1) own += c;
        depth++;
      }
      else if ("})]".includes(c) && --depth === 0) break;
      else if (depth === 1) own += c;
    }
    calls.push({ line: source.slice(0, m.index).split("\n").length, own });
  }
  return calls;
}

/** The Bun.serve calls in `source` whose options name no `error` hook (their line numbers). */
export function serveCallsWithoutErrorHook(source: string): number[] {
  return serveOptions(source).filter((c) => !/(^|[\s,])error\s*[:(]/.test(c.own)).map((c) => c.line);
}

/** The Bun.serve calls in `source` that leave Bun's development mode on: no `development: false` of their own. */
export function serveCallsInDevelopmentMode(source: string): number[] {
  return serveOptions(source).filter((c) => !/(^|[\s,])development\s*:\s*false\b/.test(c.own)).map((c) => c.line);
}

/** The src/ and tray/ files (tests aside) that call Bun.serve. */
function servingFiles(): string[] {
  const files = [...new Bun.Glob("{src,tray}/**/*.ts").scanSync(REPO)].filter((f) => !f.endsWith(".test.ts"));
  return files.filter((f) => readFileSync(join(REPO, f), "utf8").includes("Bun.serve"));
}

test("every Bun.serve in src/ and tray/ has an error hook: without one, a handler that throws is Bun's stack on stderr and its HTML page of our source to the caller", () => {
  const serving = servingFiles();
  // The listeners: broker, control API, relay and its internal listener, the two sign-in listeners.
  expect(serving.length).toBeGreaterThanOrEqual(6);
  const without = serving.flatMap((f) => serveCallsWithoutErrorHook(readFileSync(join(REPO, f), "utf8")).map((line) => `${f}:${line}`));
  expect(without).toEqual([]);
});

test("the error-hook check finds a Bun.serve without one, and is not fooled by an error key inside a handler or a comment", () => {
  const planted = `const a = Bun.serve({ port: 0, fetch(req) { return log.warn("x", { error: 1 }), new Response("ok"); } });
// Bun.serve({ error: () => {} })
const b = Bun.serve<X>({
  port: 0,
  // error: not a hook
  fetch: () => new Response("error: 1"),
});
const c = Bun.serve({ port: 0, fetch: f, error: (e) => new Response(String(e)) });
const d = Bun.serve({ port: 0, fetch: f, error(e) { return new Response("x"); } });`;
  expect(serveCallsWithoutErrorHook(planted)).toEqual([1, 3]);
});

test("every Bun.serve in src/ and tray/ sets development: false: Bun's development mode (on by default, the compiled binary too) answers a failed error hook with its HTML page of our source and stack", () => {
  const serving = servingFiles();
  expect(serving.length).toBeGreaterThanOrEqual(6);
  // Before: none did; every listener ran in development mode.
  const inDevelopment = serving.flatMap((f) => serveCallsInDevelopmentMode(readFileSync(join(REPO, f), "utf8")).map((line) => `${f}:${line}`));
  expect(inDevelopment).toEqual([]);
});

test("the development check finds a Bun.serve that leaves it on, set true, or named only in a comment or a handler", () => {
  const planted = `const a = Bun.serve({ port: 0, development: false, fetch: f, error: h });
const b = Bun.serve({ port: 0, development: true, fetch: f, error: h });
const c = Bun.serve({
  // development: false
  fetch(req) { return Response.json({ development: false }); },
  error: h,
});
const d = Bun.serve<X>({ port: 0, error: h, development:false });`;
  expect(serveCallsInDevelopmentMode(planted)).toEqual([2, 3]);
});
