import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BLOBS_PER_KEY, BlobGrants } from "./blob-grants.ts";
import { createKey } from "./keys.ts";

const NO_LIMITS = { models: ["ok-*"], rpm: 0, tokens_per_day: 0, max_parallel: 0, expiresInMs: null };
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const digest = (i: number) => "sha256:" + i.toString(16).padStart(64, "0");

test("a key's uploads are kept across a restart (a 0600 file beside the usage file), another key's are not its own", async () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-blobs-"));
  dirs.push(dir);
  const file = join(dir, "blobs.json");
  const a = createKey("alice-laptop", NO_LIMITS).record;
  const b = createKey("bob-laptop", NO_LIMITS).record;
  const before = new BlobGrants(file);
  before.grant(a, digest(1));
  before.grant(a, digest(2));
  await before.flush();
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(readFileSync(file, "utf8")).not.toContain(a.name);
  const after = new BlobGrants(file);
  expect([after.has(a, digest(1)), after.has(a, digest(2)), after.has(b, digest(1))]).toEqual([true, true, false]);
});

test("bounded per key (the oldest forgotten); an unreadable file starts with none rather than stopping the daemon", async () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-blobs-"));
  dirs.push(dir);
  const file = join(dir, "blobs.json");
  const a = createKey("a", NO_LIMITS).record;
  const g = new BlobGrants(file);
  for (let i = 0; i <= BLOBS_PER_KEY; i++) g.grant(a, digest(i));
  expect([g.has(a, digest(0)), g.has(a, digest(1)), g.has(a, digest(BLOBS_PER_KEY))]).toEqual([false, true, true]);
  await g.flush();
  expect(new BlobGrants(file).has(a, digest(BLOBS_PER_KEY))).toBe(true);
  writeFileSync(file, "{not json");
  expect(new BlobGrants(file).has(a, digest(1))).toBe(false);
  expect(new BlobGrants(null).has(a, digest(1))).toBe(false);
});
