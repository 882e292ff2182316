import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageLedger, utcDay } from "./usage-ledger.ts";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const fileIn = () => {
  const d = mkdtempSync(join(tmpdir(), "c2l-usage-"));
  dirs.push(d);
  return join(d, "usage.json");
};
const rec = (o: Partial<Parameters<UsageLedger["add"]>[0]> = {}) => ({ model: "m", status: 200, error: null, promptTokens: 7, completionTokens: 2, key: "k", caller: "lan" as const, source: "local" as const, queueMs: 0, ...o });

test("rows per day, key, model and caller; errors, tokens and queue time summed; today's tokens per key for budgets", () => {
  let now = Date.parse("2026-12-05T23:59:00Z");
  const l = new UsageLedger(fileIn(), () => now);
  l.add(rec());
  l.add(rec({ status: 503, error: "busy", promptTokens: null, completionTokens: null, queueMs: 1500 }));
  l.add(rec({ key: null, caller: "local" }));
  expect(l.query({ key: "k" })).toEqual([{ day: "2026-12-05", key: "k", model: "m", caller: "lan", requests: 2, errors: 1, prompt_tokens: 7, completion_tokens: 2, queue_ms: 1500 }]);
  expect(l.query({ key: "-" })[0]!.caller).toBe("local");
  expect(l.tokensToday("k")).toBe(9);
  now += 120_000; // past midnight UTC: a new day, a fresh budget
  expect(l.tokensToday("k")).toBe(0);
  l.add(rec());
  expect(l.query({ since: "2026-12-06" }).length).toBe(1);
});

test("written 0600 with a .bak, read back after a restart; rows from before queue time was counted get 0", () => {
  const file = fileIn();
  const now = () => Date.parse("2026-12-05T12:00:00Z");
  const a = new UsageLedger(file, now);
  a.add(rec());
  a.flush();
  a.add(rec());
  a.flush();
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(JSON.parse(readFileSync(file + ".bak", "utf8")).rows[0].requests).toBe(1);
  const b = new UsageLedger(file, now);
  expect(b.query()[0]!.requests).toBe(2);
  expect(b.tokensToday("k")).toBe(18);
  writeFileSync(file, JSON.stringify({ version: 1, rows: [{ day: "2026-12-05", key: "old", model: "m", caller: "local", requests: 1, errors: 0, prompt_tokens: 1, completion_tokens: 1 }] }));
  expect(new UsageLedger(file, now).query({ key: "old" })[0]!.queue_ms).toBe(0);
});

test("a file holding a year of days answers only the days kept (about two months), from the start, and is written so", () => {
  const file = fileIn();
  const now = Date.parse("2026-12-05T12:00:00Z");
  const row = (i: number) => ({ day: utcDay(now - i * 86_400_000), key: "k", model: "m", caller: "local", requests: 1, errors: 0, prompt_tokens: 1, completion_tokens: 1, queue_ms: 0 });
  writeFileSync(file, JSON.stringify({ version: 1, rows: Array.from({ length: 365 }, (_, i) => row(i)) }));
  const l = new UsageLedger(file, () => now);
  const days = l.query().map((r) => r.day);
  expect(days.length).toBe(63);
  expect(days[0]).toBe(utcDay(now - 62 * 86_400_000));
  expect(days.at(-1)).toBe("2026-12-05");
  // Without a request counted meanwhile, too (a quiet daemon used to keep the year, in its answers and its file).
  l.flush();
  expect(JSON.parse(readFileSync(file, "utf8")).rows.length).toBe(63);
});

test("a usage file that does not parse (cut short, edited) is kept as .unreadable and counting goes on from its .bak, not from zero", () => {
  const file = fileIn();
  const now = () => Date.parse("2026-12-05T12:00:00Z");
  const a = new UsageLedger(file, now);
  a.add(rec());
  a.flush();
  a.add(rec());
  a.flush();
  const broken = readFileSync(file, "utf8").slice(0, 40);
  writeFileSync(file, broken);
  const b = new UsageLedger(file, now);
  // Before: nothing (the keys' daily budgets started again from zero).
  expect(b.query()[0]!.requests).toBe(1);
  expect(b.tokensToday("k")).toBe(9);
  expect(readFileSync(file + ".unreadable", "utf8")).toBe(broken);
  // Neither readable: from zero, the daemon still starts.
  writeFileSync(file + ".bak", "{");
  expect(new UsageLedger(file, now).query()).toEqual([]);
});

test("utcDay names the UTC day of any time, across midnights and back in time", () => {
  const midnight = Date.UTC(2026, 11, 5);
  expect(utcDay(midnight - 1)).toBe("2026-12-04");
  expect(utcDay(midnight)).toBe("2026-12-05");
  expect(utcDay(midnight + 86_399_999)).toBe("2026-12-05");
  expect(utcDay(midnight + 86_400_000)).toBe("2026-12-06");
  expect(utcDay(midnight - 1)).toBe("2026-12-04");
  expect(utcDay(Date.UTC(2024, 1, 29, 12))).toBe("2024-02-29");
  expect(utcDay(0)).toBe("1970-01-01");
});

test("the periodic write leaves the main thread at once (the file changes only after it), keeps a .bak, and close() writes what came after", async () => {
  const file = fileIn();
  const now = () => Date.parse("2026-12-05T12:00:00Z");
  const l = new UsageLedger(file, now);
  l.add(rec());
  l.flush();
  l.add(rec());
  const writing = l.flushInBackground();
  // Nothing written yet when the call returns: the fsyncs happen on the I/O threads, not in the request's way.
  expect(JSON.parse(readFileSync(file, "utf8")).rows[0].requests).toBe(1);
  l.add(rec());
  const next = l.flushInBackground();
  await writing;
  expect(JSON.parse(readFileSync(file, "utf8")).rows[0].requests).toBeGreaterThanOrEqual(2);
  expect(JSON.parse(readFileSync(file + ".bak", "utf8")).rows[0].requests).toBeGreaterThanOrEqual(1);
  await next;
  expect(JSON.parse(readFileSync(file, "utf8")).rows[0].requests).toBe(3);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  l.add(rec());
  void l.flushInBackground();
  await l.close();
  expect(JSON.parse(readFileSync(file, "utf8")).rows[0].requests).toBe(4);
  expect(new UsageLedger(file, now).query()[0]!.requests).toBe(4);
});
