// Two processes changing the keys file at once (the CLI's `key create`/`revoke` and the daemon's /api/v1/keys): no change is lost.
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, REPO } from "../helpers/daemon.ts";
import { KeyStore } from "../../src/gateway/key-store.ts";
import { createKey } from "../../src/gateway/keys.ts";

// Real processes on a busy machine.
setDefaultTimeout(30_000);

const NO_LIMITS = { models: [], rpm: 0, tokens_per_day: 0, max_parallel: 0, allow_model_management: false, expiresInMs: null };
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A process doing what `key create` or `key revoke` does, for each name in turn, through the same KeyStore. */
function run(file: string, action: "add" | "revoke", names: string[], startAt: number) {
  const script = `
    while (Date.now() < ${startAt}) await Bun.sleep(1); // both start together, whatever each took to load
    const { KeyStore } = await import(${JSON.stringify(join(REPO, "src/gateway/key-store.ts"))});
    const { createKey } = await import(${JSON.stringify(join(REPO, "src/gateway/keys.ts"))});
    const store = new KeyStore(${JSON.stringify(file)});
    for (const name of ${JSON.stringify(names)}) {
      if (${JSON.stringify(action)} === "add") store.add(createKey(name, ${JSON.stringify(NO_LIMITS)}).record);
      else if (!store.revoke(name)) throw new Error("no key " + name);
    }`;
  return Bun.spawn([BUN, "-e", script], { stdout: "pipe", stderr: "pipe" });
}

async function finished(p: ReturnType<typeof run>): Promise<void> {
  const code = await p.exited;
  if (code !== 0) throw new Error(`exit ${code}: ${await new Response(p.stderr).text()}`);
}

/** A moment both processes have loaded by, so their changes overlap. */
const soon = () => Date.now() + 1000;
const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const inFile = (file: string): string[] => JSON.parse(readFileSync(file, "utf8")).keys.map((k: { name: string }) => k.name);

function keysFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "c2l-keys-race-"));
  dirs.push(dir);
  return join(dir, "keys.json");
}

test("keys created by two processes at once are all in the file (none written over by the other's stale copy)", async () => {
  const file = keysFile();
  const at = soon();
  await Promise.all([finished(run(file, "add", names("a", 80), at)), finished(run(file, "add", names("b", 80), at))]);
  expect(inFile(file).sort()).toEqual([...names("a", 80), ...names("b", 80)].sort());
});

test("keys revoked while another process creates keys stay revoked (a stale copy written back would bring them back)", async () => {
  const file = keysFile();
  const store = new KeyStore(file);
  for (const name of names("old", 60)) store.add(createKey(name, NO_LIMITS).record);
  const at = soon();
  await Promise.all([finished(run(file, "revoke", names("old", 60), at)), finished(run(file, "add", names("new", 80), at))]);
  expect(inFile(file).sort()).toEqual(names("new", 80).sort());
});
