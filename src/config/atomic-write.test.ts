// Unit tests for atomic-write.ts's failure paths: the .bak replaced whole at 0600, a failure named with its file and cause, stale temp files swept.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { atomicWrite, atomicWriteWithBackup, FileWriteError } from "./atomic-write.ts";
import { atomicWriteWithBackupInBackground } from "../gateway/background-write.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "c2l-atomic-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const mode = (p: string) => statSync(p).mode & 0o777;

/** A pid no process has now: a child's, once it has exited. */
function deadPid(): number {
  const p = Bun.spawnSync(["true"]);
  return p.pid;
}

test("the .bak of a file someone made readable by others is 0600, like the file (sync and background writes)", async () => {
  for (const write of [atomicWriteWithBackup, atomicWriteWithBackupInBackground]) {
    const f = join(dir, `keys-${write.name}.json`);
    writeFileSync(f, '{"version":1,"keys":[]}\n');
    chmodSync(f, 0o644);
    await write(f, '{"version":1,"keys":[1]}\n', 0o600);
    // Before: copyFile kept the loosened mode on the backup of the hashes.
    expect([mode(f), mode(f + ".bak")]).toEqual([0o600, 0o600]);
    expect(readFileSync(f + ".bak", "utf8")).toBe('{"version":1,"keys":[]}\n');
  }
});

test("a directory in the file's place (or its backup's) is a FileWriteError naming the file and the cause; nothing is left behind", async () => {
  const f = join(dir, "usage.json");
  mkdirSync(f);
  expect(() => atomicWrite(f, "x")).toThrow(new FileWriteError(f, "EISDIR"));
  writeFileSync(join(dir, "keys.json"), "old");
  mkdirSync(join(dir, "keys.json.bak"));
  const e = (() => {
    try {
      atomicWriteWithBackup(join(dir, "keys.json"), "new");
    } catch (err) {
      return err as FileWriteError;
    }
  })();
  expect(e?.code).toBe("write_failed");
  expect(e?.message).toBe(`cannot write ${join(dir, "keys.json.bak")}: a directory stands in its place (EISDIR); the file was left as it was`);
  expect(readFileSync(join(dir, "keys.json"), "utf8")).toBe("old");
  // A file where the directory should be.
  writeFileSync(join(dir, "state"), "");
  expect(() => atomicWrite(join(dir, "state", "usage.json"), "x")).toThrow(/^cannot write .*state\/usage\.json: a file stands where one of its directories should be \((ENOTDIR|EEXIST)\)/);
  await expect(atomicWriteWithBackupInBackground(join(dir, "state", "usage.json"), "x")).rejects.toBeInstanceOf(FileWriteError);
  expect(readdirSync(dir).sort()).toEqual(["keys.json", "keys.json.bak", "state", "usage.json"]);
});

test("temp files left by a process killed mid-write are removed by the next write in their directory; others' are kept", async () => {
  const f = join(dir, "tunnel.toml");
  const dead = `.tunnel.toml.${deadPid()}.mxcvxhlehgkl14.tmp`;
  // Our own pid in an older file: a process before this one had it (pids are reused after a restart).
  const reused = `.tunnel.toml.${process.pid}.mxcvxhlehgkl15.tmp`;
  const live = `.tunnel.toml.1.mxcvxhlehgkl16.tmp`; // pid 1 runs: a write under way in another process
  // A backup's: written under a name no later write uses.
  const otherFile = `.20261207T062230895Z.toml.${deadPid()}.mxcvxhlehgkl17.tmp`;
  const notOurs = [".tunnel.toml.swp", "4913", ".tunnel.toml.12.x.tmp"];
  for (const t of [dead, reused, live, otherFile, ...notOurs]) writeFileSync(join(dir, t), "half");
  utimesSync(join(dir, reused), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
  atomicWrite(f, "one");
  expect(readdirSync(dir).sort()).toEqual([live, ...notOurs, "tunnel.toml"].sort());
  // The background write sweeps too (the usage file), once per directory.
  const sub = join(dir, "state");
  mkdirSync(sub);
  writeFileSync(join(sub, dead), "half");
  await atomicWriteWithBackupInBackground(join(sub, "usage.json"), "{}");
  expect(readdirSync(sub)).toEqual(["usage.json"]);
});
