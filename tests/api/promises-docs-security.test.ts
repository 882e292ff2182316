// docs/api.md's security promises tried against a real daemon, each as an attack a user could make: the Host and Origin
// guards on every route the document lists (every spelling, HEAD, OPTIONS, a /ws upgrade) even with the right token, the
// API token in no log line, argv, environment or CLI output, the listen record, a token_file edit, and a restore the
// daemon cannot apply (nothing lost).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apiToken, removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { rawRequest, type RawResponse } from "../helpers/raw-http.ts";
import { until } from "../helpers/until.ts";
import { freePort } from "../../bench/lib/proc.ts";
import { runCli } from "./cli.ts";

setDefaultTimeout(60_000);

const TOML = `[logging]
level = "debug"
[api]
listen = "127.0.0.1:0"
allowed_origins = ["http://app.example:3000"]
[proxy]
listen = "127.0.0.1:0"
[secrets]
backend = "file"
`;
const UPGRADE = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };

/** The error an answer carries: its status, the code in the body and the code in x-c2l-error-code (the same, docs/errors.md). */
function refusal(r: RawResponse): string {
  let code = "";
  try {
    code = (JSON.parse(r.body) as { error?: { code?: string } }).error?.code ?? "";
  } catch {}
  return `${r.status} ${code} ${r.headers["x-c2l-error-code"] ?? "(no header)"}`;
}

describe("a daemon at debug level, with the token in hand", () => {
  let d: DaemonProc;
  let port: number;
  let token: string;
  /** Every operation of the OpenAPI document, its path filled in. */
  const ops: { method: string; path: string }[] = [];

  beforeAll(async () => {
    d = await startDaemon({ config: TOML });
    port = Number(new URL(d.urls.api!).port);
    token = await apiToken(d);
    const doc = JSON.parse((await rawRequest(port, "GET", "/swagger/json")).body) as { paths: Record<string, Record<string, unknown>> };
    for (const [path, item] of Object.entries(doc.paths))
      for (const method of Object.keys(item)) ops.push({ method: method.toUpperCase(), path: path.replace(/\{(\w+)\}/g, (_, p: string) => ({ name: "local", file: "app.js" })[p] ?? "x") });
  });
  afterAll(async () => {
    await d?.stop();
    if (d) removeHome(d.home);
  });

  /** Each operation × the spellings the router takes × its own method, HEAD and OPTIONS (/ws as an upgrade). */
  async function sweep(headers: Record<string, string>, want: string): Promise<{ sent: number; wrong: string[] }> {
    const wrong: string[] = [];
    let sent = 0;
    const targets = [...ops, { method: "GET", path: "/no-such-route" }, { method: "GET", path: "/api/health" }];
    for (const op of targets)
      for (const spelling of new Set([op.path, `${op.path}/`, `${op.path}?a=1`, op.path.toUpperCase()]))
        for (const method of new Set([op.method, "HEAD", "OPTIONS"])) {
          const h: Record<string, string> = { authorization: `Bearer ${token}`, ...headers };
          if (op.path === "/ws" && method === "GET") Object.assign(h, UPGRADE);
          if (method === "OPTIONS") h["access-control-request-method"] = op.method;
          const body = ["GET", "HEAD", "OPTIONS"].includes(method) ? undefined : "{}";
          if (body) h["content-type"] = "application/json";
          const r = await rawRequest(port, method, spelling, { headers: h, body });
          sent++;
          // HEAD answers carry no body: the status and the header say it.
          const got = method === "HEAD" ? `${r.status} ${r.headers["x-c2l-error-code"] ?? "(no header)"}` : refusal(r);
          const expected = method === "HEAD" ? want.split(" ").filter((_, i) => i !== 1).join(" ") : want;
          if (got !== expected) wrong.push(`${method} ${spelling}: ${got}`);
          if (r.headers["access-control-allow-origin"]) wrong.push(`${method} ${spelling}: Access-Control-Allow-Origin ${r.headers["access-control-allow-origin"]}`);
          if (r.raw.includes(token)) wrong.push(`${method} ${spelling}: the answer carries the token`);
        }
    return { sent, wrong };
  }

  test("a rebinding Host is refused on every route the document lists, in every spelling, HEAD, OPTIONS and a /ws upgrade, even with the token", async () => {
    expect(ops.length).toBeGreaterThan(40);
    expect(ops).toContainEqual({ method: "GET", path: "/ws" });
    for (const host of ["evil.example", `127.0.0.1.nip.io:${port}`, `localhost.evil.example:${port}`]) {
      const { sent, wrong } = await sweep({ host }, "403 host_not_allowed host_not_allowed");
      expect({ host, wrong }).toEqual({ host, wrong: [] });
      expect(sent).toBeGreaterThan(400);
    }
    // The sweep is not refusing everything: the same request with the daemon's own Host gets through.
    expect((await rawRequest(port, "GET", "/api/v1/config", { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  test("a foreign, null or look-alike Origin is refused on every route the document lists, in every spelling and method, even with the token; no answer carries CORS headers", async () => {
    for (const origin of ["http://evil.example", "null", `http://127.0.0.1:${port}.evil.example`, `http://localhost.evil.example:${port}`, `http://127.0.0.1:${port + 1}`, "https://app.example:3000"]) {
      const { wrong } = await sweep({ origin }, "403 origin_not_allowed origin_not_allowed");
      expect({ origin, wrong }).toEqual({ origin, wrong: [] });
    }
    // The listed origin and the API's own get through.
    expect((await rawRequest(port, "GET", "/api/v1/config", { headers: { authorization: `Bearer ${token}`, origin: "http://app.example:3000" } })).status).toBe(200);
    expect((await rawRequest(port, "GET", "/api/v1/config", { headers: { authorization: `Bearer ${token}`, origin: `http://127.0.0.1:${port}` } })).status).toBe(200);
  });

  test("the API token is in no log line (debug level), argv, environment or CLI output; nor is a wrong credential a caller sent, nor a dashboard code", async () => {
    const WRONG = "c2l_WrongCredentialPasted0123456789abcdef";
    const auth = { authorization: `Bearer ${token}` };
    // Wrong credentials in every place a caller puts one: header, Basic, cookie, CSRF header, query.
    const tries: Record<string, string>[] = [{ authorization: `Bearer ${WRONG}` }, { authorization: `Basic ${btoa(`u:${WRONG}`)}` }, { cookie: `c2l_session=${WRONG}` }, { cookie: `c2l_session=${WRONG}`, "x-csrf-token": WRONG, origin: `http://127.0.0.1:${port}` }];
    for (const h of tries) {
      expect((await rawRequest(port, "GET", "/api/v1/config", { headers: h })).status).toBe(401);
      expect((await rawRequest(port, "PUT", `/api/v1/config?token=${WRONG}`, { headers: { ...h, "content-type": "application/toml" }, body: "x" })).status).toBeGreaterThanOrEqual(400);
    }
    expect((await rawRequest(port, "GET", `/nope?access_token=${WRONG}`, { headers: auth })).status).toBe(404);
    // A dashboard code, spent, and one made up.
    const code = (JSON.parse((await rawRequest(port, "POST", "/api/v1/dashboard/code", { headers: auth })).body) as { code: string }).code;
    expect((await rawRequest(port, "GET", `/auth?code=${encodeURIComponent(code)}`)).status).toBe(303);
    expect((await rawRequest(port, "GET", `/auth?code=${WRONG}`)).status).toBeGreaterThanOrEqual(400);
    // What the user and every local user can read.
    const cli: string[] = [];
    for (const args of [["status"], ["status", "--json"], ["doctor"], ["config", "show"]]) {
      const r = await runCli(d.env, ...args);
      cli.push(r.out + r.err);
    }
    expect(cli.join("\n")).toContain(`127.0.0.1:${port}`);
    const proc = `${readFileSync(`/proc/${d.proc.pid}/cmdline`, "utf8")}\n${readFileSync(`/proc/${d.proc.pid}/environ`, "utf8")}`;
    const run = join(d.home, "run/cloudtolocalllm");
    const record = readdirSync(run).map((f) => readFileSync(join(run, f), "utf8")).join("\n");
    expect(record).toContain('"token_file"');
    const status = (await rawRequest(port, "GET", "/api/v1/status")).body + (await rawRequest(port, "GET", "/api/v1/events?limit=1000")).body;
    const places = { log: d.stderr(), cli: cli.join("\n"), proc, record, status };
    expect(d.stderr()).toContain("debug");
    const found = Object.entries(places).flatMap(([where, text]) => Object.entries({ token, wrong: WRONG, code }).filter(([, s]) => text.includes(s)).map(([what]) => `${what} in ${where}`));
    expect(found).toEqual([]);
  });
});

describe("a daemon whose files are edited and restored", () => {
  let d: DaemonProc;
  let port: number;

  beforeAll(async () => {
    // The file names the API's port (a restore below moves it): a free one, not :0.
    d = await startDaemon({ config: `[api]\nlisten = "127.0.0.1:${freePort()}"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n` });
    port = Number(new URL(d.urls.api!).port);
  });
  afterAll(async () => {
    await d?.stop();
    if (d) removeHome(d.home);
  });
  const run = () => join(d.home, "run/cloudtolocalllm");

  test("a restore the daemon cannot apply (its [api] listen is taken) is 409 conflict saying the file was saved but not applied; the old config keeps running and the file it replaced is in a backup", async () => {
    const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("someone else") });
    try {
      const token = await apiToken(d);
      const auth = { authorization: `Bearer ${token}` };
      const toml = { ...auth, "content-type": "application/toml" };
      const running = readFileSync(d.configFile, "utf8");
      // A backup that names the port another program now holds: a hand edit the daemon rejected, then a PUT over it.
      const taken = running.replace(`127.0.0.1:${port}`, `127.0.0.1:${holder.port}`) + "# moved\n";
      const rejected = d.count(/configuration rejected/);
      writeFileSync(d.configFile, taken);
      await until(() => d.count(/configuration rejected/) > rejected, 10_000, "the hand edit to be rejected");
      expect((await rawRequest(port, "PUT", "/api/v1/config", { headers: toml, body: running })).status).toBe(200);
      const backups = JSON.parse((await rawRequest(port, "GET", "/api/v1/config/backups", { headers: auth })).body) as { id: string }[];
      const dir = join(d.home, ".local/state/cloudtolocalllm/backups");
      const id = backups.find((b) => readFileSync(join(dir, `${b.id}.toml`), "utf8") === taken)!.id;

      const r = await rawRequest(port, "POST", `/api/v1/config/backups/${id}/restore`, { headers: auth });
      expect(refusal(r)).toBe("409 conflict conflict");
      const message = (JSON.parse(r.body) as { error: { message: string } }).error.message;
      expect(message).toStartWith(`saved to ${d.configFile} but not applied: api.listen: `);
      expect(message).toContain(`port ${holder.port} is already in use`);
      // Nothing is lost: the file is the backup, and the one it replaced is in the backup the message names.
      expect(readFileSync(d.configFile, "utf8")).toBe(taken);
      const previous = /\(backup (\S+) holds the previous file\)/.exec(message)?.[1];
      expect(previous && readFileSync(join(dir, `${previous}.toml`), "utf8")).toBe(running);
      // The previous configuration keeps running, on its port, and says why the file is not applied.
      const status = JSON.parse((await rawRequest(port, "GET", "/api/v1/status")).body) as { daemon: { lastReload: { ok: boolean; error: { path: string } } } };
      expect(status.daemon.lastReload).toMatchObject({ ok: false, error: { path: "api.listen" } });
      // Put back as it was, for the tests below.
      expect((await rawRequest(port, "POST", `/api/v1/config/backups/${previous}/restore`, { headers: auth })).status).toBe(200);
    } finally {
      holder.stop(true);
    }
  });

  test("a token_file edited into the config applies at the next request without a restart: a new 0600 token there, the old token refused, the listen record naming the new file", async () => {
    const old = await apiToken(d);
    const file = join(d.home, "secrets/api-token");
    const reloaded = d.count(/configuration reloaded/);
    writeFileSync(d.configFile, readFileSync(d.configFile, "utf8").replace("[proxy]", `token_file = "${file}"\n[proxy]`));
    await until(() => d.count(/configuration reloaded/) > reloaded, 10_000, "the edit to be applied");
    await until(() => existsSync(file), 5000, "the new token file");
    const fresh = readFileSync(file, "utf8").trim();
    expect(fresh).not.toBe(old);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(d.home, "secrets")).mode & 0o777).toBe(0o700);
    expect((await rawRequest(port, "GET", "/api/v1/config", { headers: { authorization: `Bearer ${old}` } })).status).toBe(401);
    expect((await rawRequest(port, "GET", "/api/v1/config", { headers: { authorization: `Bearer ${fresh}` } })).status).toBe(200);
    const [record] = readdirSync(run());
    expect(JSON.parse(readFileSync(join(run(), record!), "utf8"))).toMatchObject({ pid: d.proc.pid, url: `http://127.0.0.1:${port}`, token_file: file });
    // The CLI follows the record to the new file.
    const status = await runCli(d.env, "status", "--json");
    expect({ code: status.code, err: status.err }).toEqual({ code: 0, err: "" });
  });

  test("[api] body_limit edited into the file applies at the next request without a restart, lowered and raised again", async () => {
    const token = readFileSync(join(d.home, "secrets/api-token"), "utf8").trim();
    const running = readFileSync(d.configFile, "utf8");
    const withLimit = (n: number) => running.replace("[proxy]", `body_limit = ${n}\n[proxy]`);
    // A TOML body of 3000 bytes to validate (a comment makes it long; it sets something, so it is a config).
    const body = `# ${"x".repeat(2980)}\n[logging]\nlevel = "info"\n`;
    const validate = () => rawRequest(port, "POST", "/api/v1/config/validate", { headers: { authorization: `Bearer ${token}`, "content-type": "application/toml" }, body });
    expect((await validate()).status).toBe(200);
    for (const [limit, want] of [[2048, "413 payload_too_large payload_too_large"], [4096, "200"]] as const) {
      const reloaded = d.count(/configuration reloaded/);
      writeFileSync(d.configFile, withLimit(limit));
      await until(() => d.count(/configuration reloaded/) > reloaded, 10_000, `body_limit = ${limit} to be applied`);
      const r = await validate();
      expect(r.status === 200 ? "200" : refusal(r)).toBe(want);
    }
    writeFileSync(d.configFile, running);
  });

  test("the listen record is 0600 in a 0700 directory, holds no token, and is removed when the daemon stops", async () => {
    const files = readdirSync(run());
    expect(files).toHaveLength(1);
    const record = join(run(), files[0]!);
    expect(statSync(record).mode & 0o777).toBe(0o600);
    expect(statSync(run()).mode & 0o777).toBe(0o700);
    const text = readFileSync(record, "utf8");
    expect(Object.keys(JSON.parse(text)).sort()).toEqual(["config", "pid", "token_file", "url"]);
    expect(text).not.toContain(readFileSync((JSON.parse(text) as { token_file: string }).token_file, "utf8").trim());
    await d.stop();
    expect(readdirSync(run())).toEqual([]);
  });
});

test("a listen record that cannot be written (a file where its directory belongs) is one warn line; the daemon serves and the CLI finds it by [api] listen", async () => {
  const home = tempHome("c2l-no-record-");
  // Permissions do not stop root (the suite's user here); a file in the directory's place stops anyone.
  writeFileSync(join(home, "run/cloudtolocalllm"), "not a directory");
  const api = freePort();
  const d = await startDaemon({ home, config: `[api]\nlisten = "127.0.0.1:${api}"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n` });
  try {
    expect(d.count(/cannot write where the control API listens; the CLI reads \[api\] listen from the config file instead/)).toBe(1);
    const status = await runCli(d.env, "status", "--json");
    expect({ code: status.code, err: status.err }).toEqual({ code: 0, err: "" });
    expect((JSON.parse(status.out) as { daemon: { pid: number } }).daemon.pid).toBe(d.proc.pid);
    // A reload that moves nothing adds no line.
    d.proc.kill("SIGHUP");
    await d.waitFor(/SIGHUP: reloading/, 10_000);
    expect((await runCli(d.env, "status")).code).toBe(0);
    expect(d.count(/cannot write where the control API listens/)).toBe(1);
  } finally {
    await d.stop();
    removeHome(home);
  }
});
