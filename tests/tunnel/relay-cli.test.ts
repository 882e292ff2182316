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

test("a config giving one token two roles (tunnel b's client key is tunnel a's agent token) is refused by check and the relay does not start: b's cloud clients would connect as a's agent and take its calls", () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-relay-roles-"));
  try {
    const file = join(dir, "relay.toml");
    const same = hashToken("one-token-in-two-roles-0123456789");
    writeFileSync(file, `listen = "127.0.0.1:0"\n[[tunnels]]\nid = "a"\nagent_token_sha256 = "${same}"\n[[tunnels]]\nid = "b"\nagent_token_sha256 = "${hashToken("b-agent-0123456789")}"\nclient_key_sha256 = ["${same}"]\n`);
    const message = /relay\.toml:\d+:\d+: tunnels\[1\]\.client_key_sha256\[0\]: is the hash of tunnels\[0\]'s agent token too/;
    const check = run(["check", "--config", file]);
    expect({ code: check.code, err: check.err }).toEqual({ code: 2, err: expect.stringMatching(message) });
    const serve = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "relay", "--config", file], { stdout: "pipe", stderr: "pipe", timeout: 20_000 });
    expect({ code: serve.exitCode, err: serve.stderr.toString() }).toEqual({ code: 2, err: expect.stringMatching(message) });
  } finally {
    cleanup(dir);
  }
});
