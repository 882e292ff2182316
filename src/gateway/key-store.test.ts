import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyStore } from "./key-store.ts";
import { createKey } from "./keys.ts";

const NO_LIMITS = { models: [], rpm: 0, tokens_per_day: 0, max_parallel: 0, expiresInMs: null };
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const fileIn = () => {
  const d = mkdtempSync(join(tmpdir(), "c2l-keys-"));
  dirs.push(d);
  return join(d, "keys.json");
};

test("keys are written 0600 with the previous version as .bak, found by the key, revoked by name", () => {
  const file = fileIn();
  const store = new KeyStore(file);
  const a = createKey("a", NO_LIMITS);
  const b = createKey("b", NO_LIMITS);
  store.add(a.record);
  store.add(b.record);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(readFileSync(file, "utf8")).not.toContain(a.key);
  expect(JSON.parse(readFileSync(file + ".bak", "utf8")).keys.map((k: { name: string }) => k.name)).toEqual(["a"]);
  expect(store.lookup(a.key)?.name).toBe("a");
  expect(store.lookup(a.key + "x")).toBeNull();
  expect(() => store.add(createKey("a", NO_LIMITS).record)).toThrow('a key named "a" exists already');
  expect(store.revoke("a")).toBe(true);
  expect(store.revoke("a")).toBe(false);
  expect(store.lookup(a.key)).toBeNull();
  expect(store.list().map((r) => r.name)).toEqual(["b"]);
});

test("another process's change is seen after recheckMs; a broken file keeps the keys read before and says why", () => {
  const file = fileIn();
  let now = 0;
  const daemon = new KeyStore(file, () => now, 1000);
  const cli = new KeyStore(file);
  const k = createKey("late", NO_LIMITS);
  cli.add(k.record);
  expect(daemon.lookup(k.key)).toBeNull(); // checked less than recheckMs ago
  now = 1500;
  expect(daemon.lookup(k.key)?.name).toBe("late");
  writeFileSync(file, "{ not json");
  now = 3000;
  expect(daemon.lookup(k.key)?.name).toBe("late");
  expect(daemon.lastError).toContain("is not valid JSON");
  expect(() => daemon.add(createKey("x", NO_LIMITS).record)).toThrow("is not valid JSON");
  writeFileSync(file, JSON.stringify({ version: 1, keys: [{ name: "x" }] }));
  now = 4500;
  daemon.refresh();
  expect(daemon.lastError).toContain("is not a keys file");
  expect(existsSync(file)).toBe(true);
});

test("a keys file that cannot be read (a directory in its place) is named, with why, and nothing is written over it", () => {
  const file = fileIn();
  mkdirSync(file);
  const store = new KeyStore(file);
  // Before: "is not valid JSON (EISDIR: …)", for a file that was never read.
  expect(store.lastError).toStartWith(`the keys file ${file} cannot be read (EISDIR`);
  expect(() => store.add(createKey("a", NO_LIMITS).record)).toThrow(`the keys file ${file} cannot be read`);
  expect(statSync(file).isDirectory()).toBe(true);
});
