// One table of stable error codes: every `extends Error` class in src has its row and carries a code from it, the
// docs list them, and the two boundaries (the control API, the CLI) turn them into the status / exit code it names.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ERROR_TABLE, EXIT_FAILURE, EXIT_USAGE, codeInfo, httpErrorOf, type CodeOf, type ErrorFamily } from "../../src/core/error-codes.ts";
import { anthropicType, dialectError, ERROR_CODE_HEADER, ERROR_CODES, HttpError, type ErrorCode } from "../../src/core/http-error.ts";
import { GO_AWAY_CODES } from "../../src/protocol/messages.ts";
import { DISPLACED_CODE } from "../../src/tunnel/displacement.ts";
import type { TunnelErrorCode } from "../../src/tunnel/supervisor.ts";
import { toHttpError } from "../../src/api/errors.ts";
import { ApiError } from "../../src/client/api-client.ts";
import { CliError, UsageError } from "../../src/cli/args.ts";
import { CaFileError } from "../../src/net/ca-trust.ts";
import { KeyStoreError } from "../../src/gateway/key-store.ts";
import { DiskFullError, FileWriteError } from "../../src/config/atomic-write.ts";
import { BackupNotFoundError } from "../../src/config/store.ts";
import { AuthNotConfiguredError } from "../../src/auth/oidc.ts";
import { StreamError } from "../../src/protocol/stream.ts";
import { ProtocolError } from "../../src/protocol/codec.ts";
import { ConnectError } from "../../src/tunnel/connector.ts";
import { RedisDown, RedisTimeoutError } from "../../src/relay/cluster/redis-link.ts";
import { HopBodyError } from "../../src/relay/cluster/hop-body.ts";
import { HttpParseError } from "../../src/broker/http1-parser.ts";
import { UpstreamConnError } from "../../src/broker/http1-client.ts";
import { KeyringLockedError, NoSecretServiceError } from "../../src/secrets/secret-service-store.ts";
import { SignInNotStorableError } from "../../src/auth/sign-in-not-storable.ts";
import { ListenError } from "../../src/core/listen-error.ts";
import { DBusError } from "../../src/desktop/dbus/variant.ts";
import { DBusProtocolError } from "../../src/desktop/dbus/protocol-error.ts";
import { BUN, homeEnv, REPO, tempHome } from "../helpers/daemon.ts";

setDefaultTimeout(30_000);

/** One instance of each error class in src, as the code throws it. A class missing here fails the first test. */
const SAMPLES: Record<ErrorFamily, () => Error> = {
  HttpError: () => new HttpError("not_found", "x"),
  ApiError: () => new ApiError(0, "unreachable", "x"),
  UsageError: () => new UsageError("x"),
  CliError: () => new CliError("x"),
  CaFileError: () => new CaFileError("x"),
  KeyStoreError: () => new KeyStoreError("keys_file_invalid", "x"),
  DiskFullError: () => new DiskFullError("/f", "ENOSPC"),
  FileWriteError: () => new FileWriteError("/f", "EROFS"),
  BackupNotFoundError: () => new BackupNotFoundError("x"),
  AuthNotConfiguredError: () => new AuthNotConfiguredError(),
  KeyringLockedError: () => new KeyringLockedError(),
  SignInNotStorableError: () => new SignInNotStorableError("x"),
  NoSecretServiceError: () => new NoSecretServiceError("x"),
  ListenError: () => new ListenError("api.listen", "x", "EADDRINUSE"),
  StreamError: () => new StreamError("cancel", "x", false),
  ProtocolError: () => new ProtocolError("short_frame", "x"),
  ConnectError: () => new ConnectError("network", "x", false),
  RedisDown: () => new RedisDown("x"),
  RedisTimeoutError: () => new RedisTimeoutError("x"),
  HopBodyError: () => new HopBodyError("x"),
  HttpParseError: () => new HttpParseError("x"),
  UpstreamConnError: () => new UpstreamConnError("x", "ECONNREFUSED"),
  DBusError: () => new DBusError("org.freedesktop.DBus.Error.Failed", "x"),
  DBusProtocolError: () => new DBusProtocolError("x"),
};

// ---- type level (tsc runs in the test command): a class's code type and its row's codes are the same set.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <T extends true>(t: T) => t;
same<Same<StreamError["code"], CodeOf<"StreamError">>>(true);
same<Same<ProtocolError["code"], CodeOf<"ProtocolError">>>(true);
same<Same<ConnectError["code"], CodeOf<"ConnectError">>>(true);
same<Same<KeyStoreError["code"], CodeOf<"KeyStoreError">>>(true);
same<Same<CliError["code"], CodeOf<"CliError">>>(true);
same<Same<DiskFullError["code"], CodeOf<"DiskFullError">>>(true);
same<Same<FileWriteError["code"], CodeOf<"FileWriteError">>>(true);
same<Same<CaFileError["code"], CodeOf<"CaFileError">>>(true);
same<Same<BackupNotFoundError["code"], CodeOf<"BackupNotFoundError">>>(true);
same<Same<HttpError["code"], CodeOf<"HttpError">>>(true);
// @ts-expect-error a code outside the row is a compile error
new KeyStoreError("keys_file_broken", "x");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith(".ts") && !d.name.endsWith(".test.ts"))
    .map((d) => join(d.parentPath, d.name));
}

test("every `extends Error` class in src and tray has a row in the table and carries a code from it", () => {
  const classes = [...sourceFiles(join(REPO, "src")), ...sourceFiles(join(REPO, "tray"))].flatMap((f) =>
    [...readFileSync(f, "utf8").matchAll(/\bclass\s+(\w+)\s+extends\s+Error\b/g)].map((m) => ({ name: m[1]!, file: relative(REPO, f) })),
  );
  expect(classes.length).toBeGreaterThan(15);
  // A new bare class fails here: give it a row in src/core/error-codes.ts and a sample above.
  expect(classes.filter((c) => !Object.hasOwn(ERROR_TABLE, c.name)).map((c) => `${c.name} (${c.file})`)).toEqual([]);
  expect(Object.keys(SAMPLES).sort()).toEqual(Object.keys(ERROR_TABLE).sort());
  for (const [family, make] of Object.entries(SAMPLES)) {
    const e = make();
    expect(e.constructor.name).toBe(family);
    // codeInfo finds the row by `name` (set on each class), and the instance's code is in that row.
    expect(codeInfo(e)).toMatchObject({ family, code: (e as unknown as { code: string }).code });
  }
});

test("the table's codes: HTTP codes from ERROR_CODES, exit codes 1 or 2, and each documented in docs/errors.md", () => {
  const doc = readFileSync(join(REPO, "docs/errors.md"), "utf8");
  const undocumented: string[] = [];
  for (const [family, rows] of Object.entries(ERROR_TABLE)) {
    for (const [code, info] of Object.entries(rows as Record<string, { http?: string; exit?: number }>)) {
      if (info.http !== undefined) expect(Object.hasOwn(ERROR_CODES, info.http)).toBe(true);
      if (info.exit !== undefined) expect([EXIT_FAILURE, EXIT_USAGE]).toContain(info.exit);
      // The HTTP codes have their own table in the doc; every other family's codes are listed under its class.
      if (family === "HttpError" || (family === "ApiError" && Object.hasOwn(ERROR_CODES, code))) continue;
      if (!doc.includes(`| \`${family}\` | \`${code}\` |`)) undocumented.push(`${family}.${code}`);
    }
  }
  expect(undocumented).toEqual([]);
});

/** The rows of a markdown table in docs/errors.md whose first cell matches `first`, split into trimmed cells. */
function docRows(doc: string, first: RegExp): string[][] {
  return doc.split("\n").filter((l) => l.startsWith("| ") && first.test(l.split(" | ")[0]!.slice(2))).map((l) => l.slice(2, -2).split(" | ").map((c) => c.trim()));
}

test("docs/errors.md's class table is the table in src, read both ways: every row names a class and code of ERROR_TABLE, with its meaning, control API answer and exit code", () => {
  const doc = readFileSync(join(REPO, "docs/errors.md"), "utf8");
  const rows = docRows(doc, /^`[A-Z]\w+`$/);
  expect(rows.length).toBeGreaterThan(50);
  const wrong: string[] = [];
  for (const [cls, code, meaning, answer, exit] of rows) {
    const family = cls!.slice(1, -1);
    const c = code!.slice(1, -1);
    const info = (ERROR_TABLE as Record<string, Record<string, { meaning: string; http?: ErrorCode; exit?: number }>>)[family]?.[c];
    if (!info) {
      wrong.push(`${family}.${c}: in the doc, not in ERROR_TABLE`);
      continue;
    }
    // The doc may add a clause after the table's own words (how the CLI prints it), never say something else.
    if (!meaning!.startsWith(info.meaning)) wrong.push(`${family}.${c}: meaning "${meaning}" vs "${info.meaning}"`);
    const docAnswer = answer === "—" ? undefined : /^`(\w+)` \((\d{3})\)$/.exec(answer!);
    if (answer !== "—" && !docAnswer) wrong.push(`${family}.${c}: answer cell "${answer}"`);
    if (docAnswer?.[1] !== info.http) wrong.push(`${family}.${c}: control API answer ${docAnswer?.[1]} vs ${info.http}`);
    if (info.http && Number(docAnswer?.[2]) !== ERROR_CODES[info.http]) wrong.push(`${family}.${c}: status ${docAnswer?.[2]} vs ${ERROR_CODES[info.http]}`);
    if ((exit === "—" ? undefined : Number(exit)) !== info.exit) wrong.push(`${family}.${c}: exit ${exit} vs ${info.exit}`);
  }
  expect(wrong).toEqual([]);
});

test("docs/errors.md's table of HTTP codes, read both ways: each row is a code of ERROR_CODES with its status, and its OpenAI body has the type the renderer gives", async () => {
  const doc = readFileSync(join(REPO, "docs/errors.md"), "utf8");
  const rows = docRows(doc, /^`[a-z_]+`$/).filter((r) => /^\d{3}$/.test(r[1]!));
  expect(rows.length).toBeGreaterThan(12);
  const wrong: string[] = [];
  for (const [cell, status, , ollama, openai] of rows) {
    const code = cell!.slice(1, -1) as ErrorCode;
    if (!Object.hasOwn(ERROR_CODES, code)) {
      wrong.push(`${code}: in the doc, not in ERROR_CODES`);
      continue;
    }
    if (Number(status) !== ERROR_CODES[code]) wrong.push(`${code}: status ${status} vs ${ERROR_CODES[code]}`);
    if (!ollama!.startsWith('`{"error":"')) wrong.push(`${code}: the Ollama body is not a string under error`);
    const type = /"type":"(\w+)"/.exec(openai!)?.[1];
    const rendered = (await dialectError("/v1/chat/completions", code, "x").json()) as { error: { type: string } };
    if (type !== rendered.error.type) wrong.push(`${code}: OpenAI type ${type} in the doc, ${rendered.error.type} rendered`);
  }
  // The codes of our own APIs are listed in one sentence; a code is in exactly one of the two places.
  const own = doc.slice(doc.indexOf("The other codes in `ERROR_CODES`"), doc.indexOf("## Codes of the errors inside"));
  expect(own.length).toBeGreaterThan(100);
  const ownCodes = new Set([...own.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!));
  for (const c of ownCodes) if (!Object.hasOwn(ERROR_CODES, c)) wrong.push(`${c}: named among our own APIs' codes, not in ERROR_CODES`);
  const inRows = new Set(rows.map((r) => r[0]!.slice(1, -1)));
  for (const c of Object.keys(ERROR_CODES)) if (!inRows.has(c) && !ownCodes.has(c)) wrong.push(`${c}: neither a row nor among our own APIs' codes`);
  expect(wrong).toEqual([]);
});

test("docs/errors.md's OpenAI and Anthropic `type` by status are the renderer's, for every status a code has and the ones the doc names", async () => {
  const doc = readFileSync(join(REPO, "docs/errors.md"), "utf8");
  const para = (start: string) => doc.slice(doc.indexOf(start), doc.indexOf("\n\n", doc.indexOf(start)));
  /** "401 `x`, 403 `y`, 503 and 529 `z`, other 4xx `a`, 5xx `b`" → (status) => type */
  const rule = (text: string) => {
    const exact = new Map<number, string>();
    let other4 = "";
    let other5 = "";
    for (const m of text.matchAll(/((?:other )?(?:\d{3}|[45]xx)(?: and \d{3})*) `(\w+)`/g)) {
      if (/4xx/.test(m[1]!)) other4 = m[2]!;
      else if (/5xx/.test(m[1]!)) other5 = m[2]!;
      else for (const s of m[1]!.split(" and ")) exact.set(Number(s), m[2]!);
    }
    expect(other4 && other5).toBeTruthy();
    return { statuses: [...exact.keys()], of: (s: number) => exact.get(s) ?? (s < 500 ? other4 : other5) };
  };
  const openai = rule(para("**OpenAI `type`** by status"));
  const anthropic = rule(para("**Anthropic `type`** by status"));
  expect(anthropic.statuses).toEqual(expect.arrayContaining([400, 401, 402, 403, 404, 413, 429, 500, 503, 504, 529]));
  const statuses = new Set<number>([...Object.values(ERROR_CODES), ...openai.statuses, ...anthropic.statuses, 418, 422, 501, 502]);
  const wrong: string[] = [];
  for (const status of statuses) {
    const o = (await new HttpError("internal", "x", undefined, status).toDialectResponse("/v1/chat/completions").json()) as { error: { type: string } };
    if (o.error.type !== openai.of(status)) wrong.push(`OpenAI ${status}: ${o.error.type}, the doc says ${openai.of(status)}`);
    const a = (await new HttpError("internal", "x", undefined, status).toDialectResponse("/v1/messages").json()) as { type: string; error: { type: string } };
    if (a.type !== "error" || a.error.type !== anthropic.of(status) || anthropicType(status) !== a.error.type) wrong.push(`Anthropic ${status}: ${a.error.type}, the doc says ${anthropic.of(status)}`);
  }
  expect(wrong).toEqual([]);
});

test("docs/errors.md's table of shapes by the caller's path: every code renders in the shape its row shows, with the code in the header", async () => {
  const doc = readFileSync(join(REPO, "docs/errors.md"), "utf8");
  const shapes = docRows(doc, /^`\/|^the /).filter((r) => r[1]!.startsWith("`{"));
  // The row's first path stands for it ("/v1/messages and under it" → /v1/messages; "the rest of /v1" → /v1/chat/completions).
  const pathOf: Record<string, string> = { "/v1/messages": "/v1/messages", "/v1": "/v1/chat/completions", "/api/*": "/api/chat", "/api/v1": "/api/v1/status" };
  const seen: string[] = [];
  for (const [who, body] of shapes) {
    const key = Object.keys(pathOf).find((k) => who!.includes(`\`${k}\``));
    if (!key) continue;
    seen.push(key);
    const want = body!.slice(1, -1);
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const r = dialectError(pathOf[key]!, code, "why");
      expect(r.headers.get(ERROR_CODE_HEADER)).toBe(code);
      expect(r.status).toBe(ERROR_CODES[code]);
      // The doc's template with its placeholders filled in; `<type>` is the status's (the test above pins those).
      const status = ERROR_CODES[code];
      const type = key === "/v1/messages" ? anthropicType(status) : status === 401 ? "authentication_error" : status === 403 ? "permission_error" : status === 404 ? "not_found_error" : status === 429 ? "rate_limit_error" : status < 500 ? "invalid_request_error" : "server_error";
      const filled = JSON.parse(want.replace('"<message>"', '"why"').replace('"<code>"', JSON.stringify(code)).replace('"<type>"', JSON.stringify(type)));
      expect({ key, code, body: await r.json() }).toEqual({ key, code, body: filled });
    }
  }
  expect(seen.sort()).toEqual(Object.keys(pathOf).sort());
});

// ---- type level: the codes the tunnel's status shows in `lastErrorCode` (GET /api/v1/tunnel, `status`) are these.
const TUNNEL_CODES = [...Object.keys(ERROR_TABLE.ConnectError), ...GO_AWAY_CODES, "transport_closed", DISPLACED_CODE] as const;
same<Same<TunnelErrorCode, CodeOf<"ConnectError"> | (typeof GO_AWAY_CODES)[number] | "transport_closed" | typeof DISPLACED_CODE>>(true);

test("every code the tunnel's status can show in lastErrorCode is documented in docs/errors.md", () => {
  const doc = readFileSync(join(REPO, "docs/errors.md"), "utf8");
  const section = doc.slice(doc.indexOf("The tunnel's `lastErrorCode`"));
  expect(section.length).toBeGreaterThan(200);
  const connect = new Set(Object.keys(ERROR_TABLE.ConnectError));
  // ConnectError's codes have their rows in the class table; the session's endings are listed in that section.
  const missing = [...new Set(TUNNEL_CODES)].filter((c) => (connect.has(c) ? !doc.includes(`| \`ConnectError\` | \`${c}\` |`) : !section.includes(`\`${c}\``)));
  expect(missing).toEqual([]);
});

test("the control API's mapping: an error of the table becomes its HTTP code and status", () => {
  const req = new Request("http://127.0.0.1:8765/api/v1/keys", { method: "POST", headers: { host: "127.0.0.1:8765" } });
  const cases: [Error, ErrorCode, number][] = [
    [new KeyStoreError("keys_file_invalid", "the keys file is not valid JSON"), "conflict", 409],
    [new KeyStoreError("key_exists", 'a key named "a" exists already'), "conflict", 409],
    [new BackupNotFoundError('no backup with id "x"'), "not_found", 404],
    [new DiskFullError("/f", "ENOSPC"), "disk_full", 507],
    [new FileWriteError("/f", "EROFS"), "write_failed", 503],
    [new AuthNotConfiguredError(), "conflict", 409],
    [new SignInNotStorableError("The desktop keyring is locked"), "unavailable", 503],
  ];
  for (const [e, code, status] of cases) {
    const h = toHttpError("UNKNOWN", e, req);
    expect({ code: h.code, status: h.status, message: h.message }).toEqual({ code, status, message: e.message });
    expect(httpErrorOf(e)?.code).toBe(code);
  }
  // Outside the table (or without an HTTP code) it stays a 500 whose message hides the details.
  expect(toHttpError("UNKNOWN", new RedisDown("redis is away"), req).code).toBe("internal");
  expect(toHttpError("UNKNOWN", new Error("boom"), req).code).toBe("internal");
});

// ---- the CLI as a user runs it.
const home = tempHome("c2l-codes-");
afterAll(() => rmSync(home, { recursive: true, force: true }));
function cli(args: string[]) {
  const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), ...args], { env: homeEnv(home), cwd: home });
  return { code: r.exitCode, err: r.stderr.toString() };
}

test("the CLI's mapping: the sentence with the stable code in brackets, and the table's exit code", () => {
  const keysDir = join(home, ".local/state/cloudtolocalllm");
  mkdirSync(keysDir, { recursive: true });
  writeFileSync(join(keysDir, "keys.json"), "{ not json");
  const broken = cli(["key", "create", "editor"]);
  expect(broken.code).toBe(ERROR_TABLE.KeyStoreError.keys_file_invalid.exit);
  expect(broken.err).toMatch(/^cloudtolocalllm-tunnel key: the keys file .* is not valid JSON .* \[keys_file_invalid\]\n$/);

  const restore = cli(["config", "restore", "20200101T000000000Z"]);
  expect(restore.code).toBe(ERROR_TABLE.BackupNotFoundError.backup_not_found.exit);
  expect(restore.err).toMatch(/^cloudtolocalllm-tunnel config: no backup with id "20200101T000000000Z" in .* \[backup_not_found\]\n$/);

  const usage = cli(["status", "--frobnicate"]);
  expect(usage.code).toBe(EXIT_USAGE);
  expect(usage.err).toBe("cloudtolocalllm-tunnel status: Unknown option '--frobnicate' [usage]\n");

  // Nothing listens at the address: the CLI's own code for it.
  const down = cli(["status", "--url", "http://127.0.0.1:9"]);
  expect(down.code).toBe(EXIT_FAILURE);
  // Before: "(ECONNREFUSED: Unable to connect. Is the computer able to access the url?)", Bun's words for a network problem.
  expect(down.err).toBe("cloudtolocalllm-tunnel status: cannot reach the daemon at http://127.0.0.1:9 (connection refused); is it running? Start it with `cloudtolocalllm-tunnel serve`. [daemon_unreachable]\n");
});
