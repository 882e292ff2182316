// Unit tests for the config store: atomic writes with backups and mode 0600, rejected writes, backup/restore, pruning, export redaction.
import { afterEach, beforeEach, expect, setSystemTime, test } from "bun:test";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "smol-toml";
import { atomicWrite, FileWriteError } from "./atomic-write.ts";
import { BackupNotFoundError, ConfigStore } from "./store.ts";

let dir: string;
let file: string;
let store: ConfigStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "c2l-store-"));
  file = join(dir, "config", "tunnel.toml");
  store = new ConfigStore(file, { backupsDir: join(dir, "backups"), keep: 3 });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const mode = (p: string) => statSync(p).mode & 0o777;
const V1 = '[logging]\nlevel = "debug"\n';
const V2 = '[logging]\nlevel = "warn"\n';

test("atomicWrite replaces the file whole, with the mode asked, and leaves no temp file", () => {
  const p = join(dir, "sub", "f.txt");
  atomicWrite(p, "one");
  expect(readFileSync(p, "utf8")).toBe("one");
  expect(mode(p)).toBe(0o600);
  atomicWrite(p, "two", 0o644);
  expect(readFileSync(p, "utf8")).toBe("two");
  expect(mode(p)).toBe(0o644);
  expect(mode(join(dir, "sub"))).toBe(0o700);
  expect(readdirSync(join(dir, "sub"))).toEqual(["f.txt"]);
});

test("atomicWrite through a symlink replaces the target and keeps the link", () => {
  const target = join(dir, "dotfiles", "tunnel.toml");
  atomicWrite(target, "one");
  const link = join(dir, "link.toml");
  symlinkSync(target, link);
  atomicWrite(link, "two");
  expect(lstatSync(link).isSymbolicLink()).toBe(true);
  expect(readFileSync(target, "utf8")).toBe("two");
});

test("atomicWrite through a dangling symlink (its target deleted) writes the target and keeps the link", () => {
  mkdirSync(join(dir, "dotfiles"));
  const link = join(dir, "link.toml");
  symlinkSync("dotfiles/tunnel.toml", link);
  atomicWrite(link, "one");
  // Before: the link was replaced by a regular file, cutting the config off from the dotfiles.
  expect(lstatSync(link).isSymbolicLink()).toBe(true);
  expect(readFileSync(join(dir, "dotfiles", "tunnel.toml"), "utf8")).toBe("one");
});

test("write validates, backs up the current file, and writes mode 0600", () => {
  const first = store.write(V1);
  expect(first.ok).toBe(true);
  if (first.ok) expect(first.backup).toBeNull(); // nothing to back up yet
  expect(mode(file)).toBe(0o600);

  const second = store.write(V2);
  expect(second.ok).toBe(true);
  if (!second.ok) return;
  expect(second.config.logging.level).toBe("warn");
  expect(readFileSync(file, "utf8")).toBe(V2);
  expect(second.backup).not.toBeNull();
  expect(readFileSync(second.backup!.file, "utf8")).toBe(V1);
  expect(mode(second.backup!.file)).toBe(0o600);
  expect(readdirSync(join(dir, "config"))).toEqual(["tunnel.toml"]);
});

test("an invalid write changes nothing and makes no backup", () => {
  store.write(V1);
  const r = store.write('[logging]\nlevel = "loud"\n');
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.issues[0]).toMatchObject({ path: "logging.level", line: 2, file });
  expect(readFileSync(file, "utf8")).toBe(V1);
  expect(store.list()).toHaveLength(0);
});

test("a backup that cannot be written (a file where the backups directory should be) stops the write, naming the backup and the cause", () => {
  store.write(V1);
  writeFileSync(join(dir, "backups"), "");
  let err: Error | undefined;
  try {
    store.write(V2);
  } catch (e) {
    err = e as Error;
  }
  // Before: mkdir's bare "EEXIST: file already exists, mkdir '…/backups'" (a 500 "internal error" through the API).
  expect(err).toBeInstanceOf(FileWriteError);
  expect(err?.message).toMatch(new RegExp(`^cannot write ${join(dir, "backups")}/\\d{8}T\\d{9}Z\\.toml: a file stands where one of its directories should be \\((ENOTDIR|EEXIST)\\); the file was left as it was$`));
  expect(readFileSync(file, "utf8")).toBe(V1);
});

test("a directory where the config file should be: a save names it, not a bare EISDIR", () => {
  mkdirSync(file, { recursive: true });
  // Before: readFileSync's "EISDIR: illegal operation on a directory, read" (the API's 500 "internal error").
  expect(() => store.write(V1)).toThrow(new FileWriteError(file, "EISDIR"));
  expect(new FileWriteError(file, "EISDIR").message).toBe(`cannot write ${file}: a directory stands in its place (EISDIR); the file was left as it was`);
  expect(store.list()).toEqual([]);
});

test("backup and restore round trip; the replaced file is itself backed up", () => {
  store.write(V1);
  const b = store.backup();
  expect(b.id).toMatch(/^\d{8}T\d{9}Z(-\d+)?$/);
  expect(b.size).toBe(V1.length);
  store.write(V2);
  expect(readFileSync(file, "utf8")).toBe(V2);

  const r = store.restore(b.id);
  expect(r.ok).toBe(true);
  expect(readFileSync(file, "utf8")).toBe(V1);
  // The V2 file that restore replaced is the newest backup.
  const list = store.list();
  expect(readFileSync(list.at(-1)!.file, "utf8")).toBe(V2);
  expect(list.map((x) => x.id)).toContain(b.id);
  expect(() => store.restore("20000101T000000000Z")).toThrow(BackupNotFoundError);
  expect(() => store.restore("../../etc/passwd")).toThrow(BackupNotFoundError);
});

test("a backup that no longer validates is not restored", () => {
  store.write(V1);
  const b = store.backup();
  writeFileSync(b.file, "nonsense = = =");
  const r = store.restore(b.id);
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.issues[0]!.file).toBe(b.file);
  expect(readFileSync(file, "utf8")).toBe(V1);
});

test("a backup removed by another process while the list is read is left out, not an error", () => {
  store.write(V1);
  store.write(V2);
  // Stands for one pruned between readdir and stat: a name that no longer leads to a file.
  symlinkSync(join(dir, "gone"), join(dir, "backups", "20261101T000000000Z.toml"));
  // Before: ENOENT from statSync (GET /api/v1/config/backups answered 500, `config backups` failed).
  expect(store.list()).toHaveLength(1);
});

test("only the last N backups are kept, oldest removed first", () => {
  store.write(V1);
  const ids = [1, 2, 3, 4, 5].map(() => store.backup().id);
  const list = store.list();
  expect(list.map((b) => b.id)).toEqual(ids.slice(-3));
  expect(new Set(ids).size).toBe(5); // same-millisecond backups still get distinct ids
});

test("by default the last 20 backups are kept (docs/configuration.md): 22 saves leave the 20 files replaced last", () => {
  const deflt = new ConfigStore(file, { backupsDir: join(dir, "backups-default") });
  const texts = Array.from({ length: 22 }, (_, i) => `[logging]\nlevel = "debug"\n# save ${i}\n`);
  for (const t of texts) expect(deflt.write(t).ok).toBe(true);
  // The first save replaced no file; saves 2..22 backed up saves 1..21, of which the last 20 stay.
  expect(deflt.list().map((b) => readFileSync(b.file, "utf8"))).toEqual(texts.slice(1, 21));
});

test("a save after the clock was set back keeps the replaced file's backup: it is the newest, not the one pruned", () => {
  const now = Date.now();
  try {
    // Backups taken while the clock ran an hour ahead (a wrong RTC that NTP then corrects, a VM resumed from a snapshot).
    setSystemTime(new Date(now + 3_600_000));
    store.write(V1);
    for (let i = 0; i < 3; i++) store.backup();
    setSystemTime(new Date(now));
    store.write(V2);
    const r = store.write('[logging]\nlevel = "error"\n');
    const list = store.list();
    expect(list).toHaveLength(3);
    // The file this save replaced (V2) is in the newest backup, the one the write reports, and restore puts it back.
    expect(r.ok && r.backup?.id).toBe(list.at(-1)!.id);
    expect(readFileSync(list.at(-1)!.file, "utf8")).toBe(V2);
    expect(store.restore(list.at(-1)!.id).ok).toBe(true);
    expect(store.read()).toBe(V2);
  } finally {
    setSystemTime();
  }
});

test("a file over the config limit is backed up whole (copied, or linked when replaced) and a restore of it is refused for its size", () => {
  store.write(V1);
  const big = 3 * 1024 * 1024;
  truncateSync(file, big);
  chmodSync(file, 0o644);
  const copy = store.backup();
  expect(statSync(copy.file).size).toBe(big);
  expect(mode(copy.file)).toBe(0o600);
  const r = store.write(V2);
  expect(r.ok && r.backup && statSync(r.backup.file).size).toBe(big);
  expect(r.ok && r.backup && mode(r.backup.file)).toBe(0o600);
  expect(readFileSync(file, "utf8")).toBe(V2);
  const refused = store.restore(copy.id);
  expect(refused.ok).toBe(false);
  expect(!refused.ok && refused.issues[0]!.message).toContain("a config file may be at most 1 MiB");
  expect(readFileSync(file, "utf8")).toBe(V2);
});

test("a symlinked config over the limit is set aside from its target: the backup keeps the old bytes after the save", () => {
  const target = join(dir, "dotfiles", "tunnel.toml");
  mkdirSync(join(dir, "dotfiles"));
  mkdirSync(join(dir, "config"));
  writeFileSync(target, V1 + "#".repeat(2 * 1024 * 1024) + "\n");
  symlinkSync(target, file);
  const r = store.write(V2);
  expect(r.ok).toBe(true);
  expect(lstatSync(file).isSymbolicLink()).toBe(true);
  expect(readFileSync(target, "utf8")).toBe(V2);
  const b = r.ok ? r.backup! : null;
  expect(lstatSync(b!.file).isFile()).toBe(true);
  expect(readFileSync(b!.file, "utf8").startsWith(V1 + "###")).toBe(true);
});

test("export redacts inline secrets unless asked, and never secret names", () => {
  const text = [
    "# my config",
    "[tunnel]",
    'relay_url = "wss://user:hunter2@relay.example/agent?token=abc123&region=eu"',
    'token_secret = "tunnel-token"',
    "[[upstreams]]",
    'name = "cloud"',
    'url = "https://api.example"',
    'auth_secret = "openai-key"',
    "",
  ].join("\n");
  expect(store.write(text).ok).toBe(true);
  const out = store.export();
  expect(out).not.toContain("hunter2");
  expect(out).not.toContain("abc123");
  expect(out).toContain("redacted");
  const parsed = parse(out) as any;
  expect(parsed.tunnel.token_secret).toBe("tunnel-token");
  expect(parsed.upstreams[0].auth_secret).toBe("openai-key");
  expect(parsed.tunnel.relay_url).toContain("region=eu");
  expect(store.export({ includeSecrets: true })).toBe(text);
  // Nothing to hide: the file comes out as written, comments included.
  store.write(V1);
  expect(store.export()).toBe(V1);
});
