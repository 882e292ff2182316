// What Bun's HTTP parser refuses before any of our code runs, on the broker's port of a real daemon: a bare status line,
// `Connection: close` and no body (no dialect, no x-c2l-error-code, no reason a client can read beyond the status), and
// Bun.serve has no hook for it (its `error` handler runs only for what our fetch handler throws). Pinned here so a Bun
// upgrade that changes it is noticed: docs/gateway.md ("What the upstream reads") and docs/broker.md say so.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";

let up: FakeOllama;
let d: DaemonProc;
let port: number;

beforeAll(async () => {
  up = await startFakeOllama({ models: ["llama3.2:1b"] });
  d = await startDaemon({ config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "${up.url}"\n`, waitFor: ["api", "broker"] });
  port = Number(new URL(d.urls.broker!).port);
}, 30_000);

afterAll(async () => {
  await d?.stop();
  await up?.stop();
  if (d) removeHome(d.home);
});

/** Everything the broker writes back to `head` until it closes the connection. */
function exchange(head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => s.write(head));
    let out = "";
    s.on("data", (c) => (out += c.toString("latin1")));
    s.on("close", () => resolve(out));
    s.on("error", reject);
  });
}

const BARE_431 = "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n";
const BARE_400 = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";

test("documented (Bun's parser, not ours): a head over 16 KiB (a header or the URL) is a bare 431, a malformed request line or header name a bare 400; no body, nothing reaches the upstream, the broker's error hook never runs", async () => {
  const seen = up.requests.length;
  expect(await exchange(`POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nx-long: ${"a".repeat(17 * 1024)}\r\ncontent-length: 2\r\n\r\n{}`)).toBe(BARE_431);
  expect(await exchange(`GET /api/tags?q=${"a".repeat(17 * 1024)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)).toBe(BARE_431);
  expect(await exchange(`GET /api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: y\r\n\r\n`)).toBe(BARE_400);
  expect(await exchange(`NOT A REQUEST\r\n\r\n`)).toBe(BARE_400);
  // Just under the limit the same call is ours again: an answer with a body, in the route's dialect.
  const under = await exchange(`GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\nx-long: ${"a".repeat(15 * 1024)}\r\nConnection: close\r\n\r\n`);
  expect(under).toStartWith("HTTP/1.1 200 OK\r\n");
  expect(under).toContain('"version"');
  expect(up.requests.slice(seen).map((r) => r.path)).toEqual(["/api/version"]);
  expect(d.stderr()).not.toContain("request failed inside the broker");
});
