// The `key` command given a name that is not there: it says which keys there are, or that there are none, and how to go on.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../api/cli.ts";

const home = mkdtempSync(join(tmpdir(), "c2l-key-cli-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, XDG_STATE_HOME: join(home, "state"), XDG_CONFIG_HOME: join(home, "config") };

test("key show and revoke of an unknown name exit 1 naming the keys there are (or that there are none) and the command that goes on", async () => {
  const none = await runCli(env, "key", "show", "editor");
  expect({ code: none.code, out: none.out }).toEqual({ code: 1, out: "" });
  expect(none.err).toContain('no key named "editor": there are no keys yet (create one with `cloudtolocalllm-tunnel key create NAME`)');

  const made = await runCli(env, "key", "create", "laptop");
  expect(made.code).toBe(0);
  for (const action of ["show", "revoke"]) {
    const r = await runCli(env, "key", action, "lapton");
    expect({ code: r.code, out: r.out }).toEqual({ code: 1, out: "" });
    expect(r.err).toContain('no key named "lapton"; the keys are "laptop" (`cloudtolocalllm-tunnel key list` shows them)');
  }
});
