// `relay hash-token` and `relay check`: tokens come from stdin (never argv), config errors exit 2 with file:line.
import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, REPO } from "../helpers/daemon.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { cleanup } from "./helpers.ts";

const run = (args: string[], stdin?: string) => {
  const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "relay", ...args], { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

test("hash-token reads the token from stdin; --generate makes one", () => {
  const r = run(["hash-token"], "my-agent-token-123\n");
  expect(r.code).toBe(0);
  expect(r.out.trim()).toBe(hashToken("my-agent-token-123"));
  const g = run(["hash-token", "--generate"]);
  const token = /token: (\S+)/.exec(g.out)![1]!;
  // Both lines labelled: which one goes to the relay config must not be a guess.
  expect(g.out.trim().split("\n").at(-1)).toBe(`hash:  ${hashToken(token)}`);
  expect(token.length).toBeGreaterThanOrEqual(40);
});

test("check validates the config: ok, or exit 2 with file:line:column", () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-relay-cli-"));
  try {
    const good = join(dir, "good.toml");
    writeFileSync(good, `[[tunnels]]\nid = "a"\nagent_token_sha256 = "${hashToken("x-123456")}"\n`);
    expect(run(["check", "--config", good])).toMatchObject({ code: 0, out: `${good}: ok (1 tunnel)\n` });
    const bad = join(dir, "bad.toml");
    writeFileSync(bad, `listen = "127.0.0.1:1"\n[limits]\nmax_streams = "many"\n`);
    const r = run(["check", "--config", bad]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad\.toml:3:\d+: limits\.max_streams: expected a whole number/);
    expect(run([]).code).toBe(2);
  } finally {
    cleanup(dir);
  }
});
