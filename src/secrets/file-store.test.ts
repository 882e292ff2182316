// The fallback file store, the environment override and name rules.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileSecretStore } from "./file-store.ts";
import { MemorySecretStore } from "./memory-store.ts";
import { openSecretStore } from "./open-secret-store.ts";
import { checkSecretName, secretEnvVar } from "../config/secret-names.ts";
import { logger, setLogSink } from "../core/log.ts";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "c2l-secrets-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  setLogSink((l) => process.stderr.write(l + "\n"));
});

test("file store keeps secrets in a 0600 file in a 0700 directory and round-trips set/get/list/delete", async () => {
  const file = join(tmp(), "state", "cloudtolocalllm", "secrets.json");
  const s = new FileSecretStore(file);
  expect(await s.get("tunnel-token")).toBeNull();
  await s.set("tunnel-token", "tok-abcdef-123");
  await s.set("openai.key", "sk-999999");
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(statSync(join(file, "..")).mode & 0o777).toBe(0o700);
  expect(await s.get("tunnel-token")).toBe("tok-abcdef-123");
  expect(await s.list()).toEqual(["openai.key", "tunnel-token"]);
  expect(await s.delete("tunnel-token")).toBe(true);
  expect(await s.delete("tunnel-token")).toBe(false);
  expect(await s.list()).toEqual(["openai.key"]);
  expect(statSync(file).mode & 0o777).toBe(0o600);
});

test("two processes setting secrets in the same file at once lose none of them (the CLI and the daemon)", async () => {
  const file = join(tmp(), "secrets.json");
  const writer = (tag: string) =>
    Bun.spawn(
      [process.execPath, "-e", `const { FileSecretStore } = await import(${JSON.stringify(join(import.meta.dir, "file-store.ts"))}); const s = new FileSecretStore(process.argv[1]); for (let i = 0; i < 40; i++) await s.set("${tag}-" + i, "v" + i);`, file],
      { stdout: "inherit", stderr: "inherit" },
    );
  const [a, b] = [writer("a"), writer("b")];
  expect([await a.exited, await b.exited]).toEqual([0, 0]);
  // Before: each read-change-write could write back a file read before the other's change: names went missing.
  expect((await new FileSecretStore(file).list()).length).toBe(80);
  expect(readdirSync(join(file, "..")).sort()).toEqual(["secrets.json"]);
});

test("file store tightens a file that others can read", async () => {
  const file = join(tmp(), "secrets.json");
  writeFileSync(file, JSON.stringify({ version: 1, secrets: { a: "value-1234" } }));
  chmodSync(file, 0o644);
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  expect(await new FileSecretStore(file).get("a")).toBe("value-1234");
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(lines.join("\n")).toContain("mode is now 0600");
});

test("a corrupt secrets file is one clear error naming the file", async () => {
  const file = join(tmp(), "secrets.json");
  writeFileSync(file, "{nope", { mode: 0o600 });
  await expect(new FileSecretStore(file).get("a")).rejects.toThrow(`The secrets file ${file} is not valid JSON`);
});

test("environment variables override the store for get() and values read are scrubbed from logs", async () => {
  const dir = tmp();
  const env = { [secretEnvVar("tunnel-token")]: "env-secret-value-42" };
  const s = await openSecretStore({ secrets: { backend: "file" } }, { env, file: join(dir, "s.json") });
  expect(secretEnvVar("tunnel-token")).toBe("CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN");
  expect(secretEnvVar("my.api-key")).toBe("CLOUDTOLOCALLLM_SECRET_MY_API_KEY");
  await s.set("tunnel-token", "file-value-000000");
  expect(await s.get("tunnel-token")).toBe("env-secret-value-42");
  expect(await s.get("other")).toBeNull();
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  logger("t").info(`value is env-secret-value-42 and file-value-000000`);
  expect(lines[0]).not.toContain("env-secret-value-42");
  expect(lines[0]).not.toContain("file-value-000000");
});

test("auto without a session bus falls back to the file with a warning", async () => {
  const dir = tmp();
  const s = await openSecretStore({ secrets: { backend: "auto" } }, { env: {}, busAddress: null, file: join(dir, "s.json") });
  expect(s.backend).toBe("file");
  expect(s.warning).toContain("No desktop keyring");
  expect(s.warning).toContain(join(dir, "s.json"));
  await expect(openSecretStore({ secrets: { backend: "secret-service" } }, { env: {}, busAddress: null })).rejects.toThrow(
    "The desktop keyring is not available",
  );
});

test("secret names are checked", async () => {
  expect(checkSecretName("tunnel-token")).toBe("tunnel-token");
  expect(() => checkSecretName("../etc")).toThrow("is not a valid secret name");
  expect(() => checkSecretName("")).toThrow();
  const m = new MemorySecretStore();
  await m.set("x", "memory-value");
  expect(await m.get("x")).toBe("memory-value");
  expect(await m.list()).toEqual(["x"]);
});
