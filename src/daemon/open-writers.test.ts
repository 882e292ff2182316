// openWriter: a process holding the file open for writing is found (by pid); one that only reads it is not.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openWriter } from "./open-writers.ts";

const dir = mkdtempSync(join(tmpdir(), "c2l-writers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a writer is found by pid until it closes the file; a reader is not a writer", async () => {
  const file = join(dir, "tunnel.toml");
  writeFileSync(file, "a = 1\n");
  expect(openWriter(file)).toBeNull();
  const reader = Bun.spawn(["bash", "-c", 'exec < "$0"; echo open; sleep 5', file], { stdout: "pipe" });
  const writer = Bun.spawn(["bash", "-c", 'exec >> "$0"; echo open >&2; sleep 5', file], { stderr: "pipe" });
  for (const s of [reader.stdout, writer.stderr]) await s.getReader().read();
  expect(openWriter(file)).toBe(writer.pid);
  writer.kill();
  await writer.exited;
  expect(openWriter(file)).toBeNull();
  reader.kill();
  await reader.exited;
});
