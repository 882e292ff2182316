// An upstream configured with a user and password in its URL, through a real daemon: its error answers quoting what it
// got (the password, or the `Authorization: Basic …` token made of it) reach the caller [redacted], in the body (sized
// or chunked) and in headers, as an auth_secret's would.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { scriptedUpstream, type ScriptedUpstream } from "../helpers/scripted-upstream.ts";

const PASSWORD = "pw-url-9b3e71";
const BASIC = btoa(`operator:${PASSWORD}`);
let up: ScriptedUpstream;
let d: DaemonProc;

const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;

beforeAll(async () => {
  up = scriptedUpstream(() => {});
  d = await startDaemon({
    config: `${TEST_DAEMON_TOML}[health]\ninterval = "60s"\n[[upstreams]]\nname = "lan"\nurl = "${up.url.replace("://", `://operator:${PASSWORD}@`)}"\n`,
    waitFor: ["api", "broker"],
  });
}, 30_000);

afterAll(async () => {
  await d?.stop();
  up?.stop();
  if (d) removeHome(d.home);
});

test("a sized error answer quoting the URL's password and its Basic token (body and WWW-Authenticate) reaches the caller [redacted]", async () => {
  const body = `{"error":"refused Authorization: Basic ${BASIC} (password ${PASSWORD})"}`;
  up.script = (_path, s) =>
    void s.end(
      `HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nwww-authenticate: Basic realm="got ${BASIC}"\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  const res = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m", messages: [], stream: false }) });
  expect(res.status).toBe(401);
  expect(await res.text()).toBe('{"error":"refused Authorization: Basic [redacted] (password [redacted])"}');
  expect(res.headers.get("www-authenticate")).toBe('Basic realm="got [redacted]"');
});

test("a chunked error answer quoting the URL's Basic token split across two chunks reaches the caller [redacted]", async () => {
  up.script = (_path, s) => {
    s.write(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`);
    s.write(chunk(`{"error":"Basic ${BASIC.slice(0, 6)}`));
    setTimeout(() => s.end(chunk(`${BASIC.slice(6)} refused"}`) + chunk("")), 100);
  };
  const res = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m", messages: [] }) });
  expect(res.status).toBe(403);
  expect(await res.text()).toBe('{"error":"Basic [redacted] refused"}');
});
