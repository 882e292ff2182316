// Integration: a real daemon (from source, and the compiled binary) at its file limit (ulimit -n) when the first control-API request loads the API's code: a 503 to retry and one log line per cause, never Bun's stack or its HTML page of our source; the API serves once descriptors are free.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, readdirSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { apiToken, BUN, REPO, removeHome, startDaemon, tempHome, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { ensureBinary } from "../helpers/binary.ts";
import { until } from "../helpers/until.ts";
import { NOT_LOADED_MESSAGE } from "../../src/api/lazy-front.ts";
import { descriptorShortage } from "../../src/core/fd-exhaustion.ts";

// Real processes on a busy machine (and the binary may be built first): more than bun's 5 s default.
setDefaultTimeout(180_000);

const LIMIT = 64;
/** A plain log line (stderr is a pipe here). */
const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) [\w.-]+: \S/;
const NOT_LOADED = { error: { code: "unavailable", message: NOT_LOADED_MESSAGE } };

const daemons: DaemonProc[] = [];
const held: Socket[] = [];
afterAll(async () => {
  for (const s of held) s.destroy();
  for (const d of daemons) {
    await d.stop();
    removeHome(d.home);
  }
});

/** A daemon whose file limit is LIMIT, run by `exec` (the compiled binary, or bun with src/main.ts). */
async function daemonAtLimit(exec: string): Promise<DaemonProc> {
  const home = tempHome("c2l-fd-limit-");
  const wrapper = join(home, "serve-at-fd-limit.sh");
  writeFileSync(wrapper, `#!/bin/sh\nulimit -n ${LIMIT} || exit 97\nexec ${exec} "$@"\n`);
  chmodSync(wrapper, 0o755);
  // No health check or usage write while the descriptors are counted out: nothing else should take one meanwhile.
  const d = await startDaemon({ home, binary: wrapper, config: `${TEST_DAEMON_TOML}[health]\ninterval = "1h"\ndown_interval = "1h"\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\n` });
  daemons.push(d);
  return d;
}

/**
 * Holds more connections than `d` has descriptors left (it accepts until it has none, the rest wait in the backlog),
 * then sends each the first request of the daemon's life: its control API loads its code now. Returns the answers
 * had once one came (the rest are still waiting for a descriptor), and releases every connection.
 */
async function firstRequestsAtLimit(d: DaemonProc, token: string, path = "/api/v1/status"): Promise<string[]> {
  const port = Number(new URL(d.urls.api!).port);
  const openFds = () => readdirSync(`/proc/${d.proc.pid}/fd`).length;
  const answers = new Map<Socket, string>();
  const mine: Socket[] = [];
  for (let i = 0, n = LIMIT - openFds() + 4; i < n; i++) {
    const s = connect({ host: "127.0.0.1", port });
    s.setEncoding("latin1");
    answers.set(s, "");
    s.on("data", (c) => answers.set(s, answers.get(s)! + c));
    s.on("error", () => {});
    mine.push(s);
    held.push(s);
  }
  await until(() => openFds() >= LIMIT, 10_000, `the daemon to hold ${LIMIT} descriptors (it holds ${openFds()})`);
  for (const s of mine) s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
  await until(() => [...answers.values()].some((a) => a.startsWith("HTTP/1.1 ")), 10_000, "an answer to the requests at the file limit");
  const had = [...answers.values()].filter((a) => a.startsWith("HTTP/1.1 "));
  for (const s of mine) s.destroy();
  return had;
}

const statusOf = (a: string) => Number(a.slice(9, 12));
const bodyOf = (a: string) => JSON.parse(a.slice(a.indexOf("\r\n\r\n") + 4)) as unknown;

test("from source: the API's code cannot be loaded (EMFILE): 503 unavailable to retry, one log line per cause (not per request), and a later request loads again", async () => {
  const d = await daemonAtLimit(`"${BUN}" "${join(REPO, "src/main.ts")}"`);
  const token = await apiToken(d);
  const answers = await firstRequestsAtLimit(d, token);
  // Before: 500 internal, "internal error; the daemon log has the details" (and before that Bun's HTML page of lazy-front.ts).
  for (const a of answers) expect({ status: statusOf(a), body: bodyOf(a) }).toEqual({ status: 503, body: NOT_LOADED });
  expect(answers.every((a) => /\r\nretry-after: 1\r\n/i.test(a))).toBe(true);
  // Bun's words for it vary ("EMFILE reading …", "Cannot find module …"): the line is there, in the log's form.
  await d.waitFor(/error api: the control API could not load its code; requests are answered 503 until it does error=/, 5_000);
  // One cause failed every request at once: a line per message, not one per request.
  const lines = d.stderr().split("\n").filter((l) => l.includes("could not load its code"));
  expect(new Set(lines.map((l) => l.replace(/^\S+ /, ""))).size).toBe(lines.length);
  // Descriptors free: the next request loads the code again (the failed load was not kept). Run from source, Bun itself
  // may keep a package lookup that failed at the limit ("Cannot find package 'elysia'") until the daemon restarts: then
  // it is the same 503, never a 500 (the compiled binary carries its modules: the test below).
  const next = await fetch(`${d.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } });
  if (next.status !== 200) expect({ status: next.status, body: await next.json() }).toEqual({ status: 503, body: NOT_LOADED });
  expect(d.stderr().split("\n").filter((l) => l !== "" && !LOG_LINE.test(l))).toEqual([]);
});

test("the compiled binary at its file limit: the API loads its code from the binary, and serves every request once descriptors are free", async () => {
  const d = await daemonAtLimit(`"${await ensureBinary()}"`);
  const token = await apiToken(d);
  const answers = await firstRequestsAtLimit(d, token);
  // Its modules are in the binary: no file to open, no 500. (A 503 is what a failed load would answer: none here.)
  for (const a of answers) expect(statusOf(a)).toBe(200);
  const next = await fetch(`${d.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } });
  expect(next.status).toBe(200);
  // The dashboard's and the docs' code, loaded lazily on their first use, after the shortage.
  expect((await fetch(`${d.urls.api}/swagger/json`)).status).toBe(200);
  expect(d.stderr().split("\n").filter((l) => l !== "" && !LOG_LINE.test(l))).toEqual([]);
});

test("the compiled binary, its API loaded, at its file limit: a route that reads a file (GET /api/v1/config reads the config's version) answers 503 unavailable to retry, with one log line, not a 500 per request", async () => {
  const d = await daemonAtLimit(`"${await ensureBinary()}"`);
  const token = await apiToken(d);
  expect((await fetch(`${d.urls.api}/api/v1/config`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  const answers = await firstRequestsAtLimit(d, token, "/api/v1/config");
  // Those answered while a descriptor was free get the config; the rest a 503. Before: 500 internal, and an error line each.
  const refused = answers.filter((a) => statusOf(a) !== 200);
  expect(refused.length).toBeGreaterThan(0);
  for (const a of refused) expect({ status: statusOf(a), body: bodyOf(a) }).toEqual({ status: 503, body: { error: { code: "unavailable", message: descriptorShortage("EMFILE") } } });
  await d.waitFor(/warn api: out of file descriptors; the request was refused method=GET path=\/api\/v1\/config error=.*EMFILE/, 5_000);
  expect(d.count(/out of file descriptors; the request was refused/)).toBe(1);
  expect(d.count(/request failed/)).toBe(0);
  // Descriptors free again: served.
  expect((await fetch(`${d.urls.api}/api/v1/config`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  expect(d.stderr().split("\n").filter((l) => l !== "" && !LOG_LINE.test(l))).toEqual([]);
});
