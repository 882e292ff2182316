// The config watcher: which saves reach the reload, and that putting the good file back after a rejection is read.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { watchConfigFile, type ConfigWatcher } from "./config-watcher.ts";

const dirs: string[] = [];
let watcher: ConfigWatcher | null = null;
afterEach(() => {
  watcher?.close();
  watcher = null;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(20);
  }
}

function setup(initial: string) {
  const dir = mkdtempSync(join(tmpdir(), "c2l-watch-"));
  dirs.push(dir);
  const file = join(dir, "tunnel.toml");
  writeFileSync(file, initial);
  const seen: string[] = [];
  // A text containing "bad" is rejected, as an invalid config is by the runtime.
  watcher = watchConfigFile(file, async (t) => (seen.push(t), { ok: !t.includes("bad") }), { debounceMs: 30, initialText: initial });
  return { file, seen };
}

test("the good text put back after a rejected save is reloaded (it clears the rejection)", async () => {
  const { file, seen } = setup("good = 1\n");
  writeFileSync(file, "bad = 1\n");
  await until(() => seen.includes("bad = 1\n"));
  writeFileSync(file, "good = 1\n");
  await until(() => seen.at(-1) === "good = 1\n");
  expect(seen.filter((t) => t === "good = 1\n").length).toBe(1);
});

test("a rejected text saved again is retried; a save that changed nothing after a good one is not", async () => {
  const { file, seen } = setup("good = 1\n");
  writeFileSync(file, "bad = 2\n");
  await until(() => seen.length === 1);
  writeFileSync(file, "bad = 2\n");
  await until(() => seen.length === 2);
  writeFileSync(file, "good = 2\n");
  await until(() => seen.length === 3);
  writeFileSync(file, "good = 2\n");
  await Bun.sleep(300);
  expect(seen).toEqual(["bad = 2\n", "bad = 2\n", "good = 2\n"]);
});
