// One table of stable error codes: every `extends Error` class in src has its row and carries a code from it, the
// docs list them, and the two boundaries (the control API, the CLI) turn them into the status / exit code it names.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ERROR_TABLE, EXIT_FAILURE, EXIT_USAGE, codeInfo, httpErrorOf, type CodeOf, type ErrorFamily } from "../../src/core/error-codes.ts";
import { ERROR_CODES, HttpError, type ErrorCode } from "../../src/core/http-error.ts";
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
  expect(down.err).toMatch(/cannot reach the daemon at http:\/\/127\.0\.0\.1:9 .* \[daemon_unreachable\]\n$/);
});
