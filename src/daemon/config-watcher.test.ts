// The config watcher: which saves reach the reload, and that putting the good file back after a rejection is read.
import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
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
  const seen: (string | null)[] = [];
  // A text containing "bad" is rejected, as an invalid config is by the runtime, and so is an unreadable file (null).
  watcher = watchConfigFile(file, async (t) => (seen.push(t), { ok: t !== null && !t.includes("bad") }), { debounceMs: 30, initialText: initial });
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

test("the config directory replaced by another (renamed over it, or deleted and made again): later saves are still seen", async () => {
  const { file, seen } = setup("good = 1\n");
  const dir = dirname(file);
  const other = `${dir}.new`;
  dirs.push(other);
  mkdirSync(other);
  writeFileSync(join(other, "tunnel.toml"), "good = 2\n");
  rmSync(dir, { recursive: true });
  renameSync(other, dir);
  await until(() => seen.at(-1) === "good = 2\n");
  // The watch of the old directory went with it: this save is seen only by a watch of the new one.
  writeFileSync(file, "good = 3\n");
  await until(() => seen.at(-1) === "good = 3\n");
  rmSync(dir, { recursive: true });
  await Bun.sleep(100);
  mkdirSync(dir);
  writeFileSync(file, "good = 4\n");
  await until(() => seen.at(-1) === "good = 4\n");
  writeFileSync(file, "good = 5\n");
  await until(() => seen.at(-1) === "good = 5\n");
});

test("a symlinked config re-pointed at a file in another directory: edits of the new target are seen", async () => {
  const root = mkdtempSync(join(tmpdir(), "c2l-watch-"));
  dirs.push(root);
  for (const d of ["conf", "a", "b"]) mkdirSync(join(root, d));
  writeFileSync(join(root, "a/tunnel.toml"), "good = 1\n");
  writeFileSync(join(root, "b/tunnel.toml"), "good = 2\n");
  const file = join(root, "conf/tunnel.toml");
  symlinkSync(join(root, "a/tunnel.toml"), file);
  const seen: (string | null)[] = [];
  watcher = watchConfigFile(file, async (t) => (seen.push(t), { ok: true }), { debounceMs: 30, initialText: "good = 1\n" });
  // As a dotfile manager switches generations: a new link renamed over the old one.
  symlinkSync(join(root, "b/tunnel.toml"), join(root, "conf/.tmp-link"));
  renameSync(join(root, "conf/.tmp-link"), file);
  await until(() => seen.at(-1) === "good = 2\n");
  writeFileSync(join(root, "b/tunnel.toml"), "good = 3\n");
  await until(() => seen.at(-1) === "good = 3\n");
});

test("a writer that pauses mid-file (a slow pipe, `cat > tunnel.toml` typed by hand): only the whole file is read, once it is closed", async () => {
  const { file, seen } = setup("good = 0\n");
  // The first part is valid on its own and stays on disk far longer than the debounce.
  const writer = Bun.spawn(["bash", "-c", `exec > "$0"; printf 'good = 1\\n'; sleep 0.8; printf 'good = 2\\n'`, file]);
  await writer.exited;
  await until(() => seen.length > 0);
  await Bun.sleep(200);
  expect(seen).toEqual(["good = 1\ngood = 2\n"]);
});

test("a program that keeps the file open for writing: a save is read once unchanged for heldQuietMs, not while it still changes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-watch-"));
  dirs.push(dir);
  const file = join(dir, "tunnel.toml");
  writeFileSync(file, "good = 0\n");
  const seen: (string | null)[] = [];
  watcher = watchConfigFile(file, async (t) => (seen.push(t), { ok: true }), { debounceMs: 30, heldQuietMs: 3000, initialText: "good = 0\n" });
  // Holds the file open (an IDE), writing a line every 100 ms (far less than heldQuietMs, even on a loaded machine), then keeps it open without a change.
  const holder = Bun.spawn(["bash", "-c", `exec 3>"$0"; for i in 1 2 3 4 5; do printf 'good = %s\\n' $i >&3; sleep 0.1; done; exec sleep 600`, file]);
  try {
    await until(() => seen.length > 0, 10_000);
    expect(seen).toEqual(["good = 1\ngood = 2\ngood = 3\ngood = 4\ngood = 5\n"]);
  } finally {
    holder.kill();
    await holder.exited;
  }
}, 20_000);

test("a file there but unreadable is handed over as null (the runtime says why), once; readable again, it is read", async () => {
  const { file, seen } = setup("good = 0\n");
  rmSync(file);
  // Unreadable as root too (EISDIR, where a user's daemon meets EACCES after a chmod 000 or a `sudo mv`).
  mkdirSync(file);
  await until(() => seen.length === 1);
  rmSync(file, { recursive: true });
  writeFileSync(file, "good = 0\n");
  await until(() => seen.length === 2);
  expect(seen).toEqual([null, "good = 0\n"]);
});

test("a ConfigMap-style mount (tunnel.toml → ..data/tunnel.toml, ..data re-pointed at a new generation): each swap is seen, the old generation kept or not", async () => {
  const root = mkdtempSync(join(tmpdir(), "c2l-watch-"));
  dirs.push(root);
  const generation = (n: number) => {
    mkdirSync(join(root, `..gen${n}`));
    writeFileSync(join(root, `..gen${n}/tunnel.toml`), `good = ${n}\n`);
    symlinkSync(`..gen${n}`, join(root, "..data_tmp"));
    renameSync(join(root, "..data_tmp"), join(root, "..data"));
  };
  mkdirSync(join(root, "..gen1"));
  writeFileSync(join(root, "..gen1/tunnel.toml"), "good = 1\n");
  symlinkSync("..gen1", join(root, "..data"));
  symlinkSync("..data/tunnel.toml", join(root, "tunnel.toml"));
  const seen: (string | null)[] = [];
  watcher = watchConfigFile(join(root, "tunnel.toml"), async (t) => (seen.push(t), { ok: true }), { debounceMs: 30, initialText: "good = 1\n" });
  // The old generation stays (kubelet removes it; a release-style `current` link keeps it): only ..data changed.
  generation(2);
  await until(() => seen.at(-1) === "good = 2\n");
  generation(3);
  rmSync(join(root, "..gen2"), { recursive: true });
  await until(() => seen.at(-1) === "good = 3\n");
});

test("a script writing the file in parts, closing it in between: the first part, which drops a section, is not read as the whole", async () => {
  const { file, seen } = setup("[a]\nx = 0\n[b]\ny = 0\n");
  const script = Bun.spawn(["bash", "-c", `printf '[a]\\nx = 1\\n' > "$0"; sleep 0.5; printf '[b]\\ny = 1\\n' >> "$0"`, file]);
  await script.exited;
  await until(() => seen.length > 0);
  await Bun.sleep(200);
  expect(seen).toEqual(["[a]\nx = 1\n[b]\ny = 1\n"]);
  // A section deleted for good is applied, once it stayed so for the settle time.
  writeFileSync(file, "[a]\nx = 2\n");
  await until(() => seen.length === 2, 3000);
  expect(seen[1]).toBe("[a]\nx = 2\n");
});
