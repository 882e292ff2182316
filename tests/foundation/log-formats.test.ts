// The daemon's log and the CLI's messages as a user meets them: on a terminal (a pseudo-terminal here) readable lines coloured only where meant, one per request; under journald the priorities.
import { expect } from "bun:test";
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { requireTools } from "../helpers/requires.ts";
import { BUN, REPO, TEST_DAEMON_TOML, homeEnv, removeHome, tempHome } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";

const { afterAll, beforeAll, test } = requireTools(["script"]);

const ANSI = /\x1b\[[0-9;]*m/g;
const cleanups: (() => unknown)[] = [];
let ollama: FakeOllama;

beforeAll(async () => {
  ollama = await startFakeOllama({ models: ["llama3.2:1b"] });
  cleanups.push(() => ollama.stop());
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
}, 30_000);

/** A request's line on a terminal, as the README quotes it (its model llama3.2:1b, its upstream "local"). */
const TTY_REQUEST_LINE = /^\d\d:\d\d:\d\d\.\d{3} INFO  request  200 POST \/api\/chat model=llama3\.2:1b upstream=local from=local ttft=\d+ms tok_s=[\d.]+ took=\d+(ms|\.\d\ds)$/;

const sh = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/** Runs argv under `script` (a pseudo-terminal for its stdin, stdout and stderr); returns what the terminal showed so far. */
function underPty(argv: string[], env: Record<string, string>) {
  // exec: the program is script's own child, so stop() finds it by pid.
  const p = Bun.spawn(["script", "-qfec", "exec " + argv.map(sh).join(" "), "/dev/null"], { env: { ...env, SHELL: "/bin/sh", TERM: "xterm" }, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  let out = "";
  void (async () => {
    const dec = new TextDecoder();
    for await (const c of p.stdout) out += dec.decode(c, { stream: true });
  })();
  return {
    p,
    out: () => out,
    lines: () => out.split(/\r?\n/).map((l) => l.replace(/\r/g, "")),
    /** SIGTERM to the program (a closed terminal alone would be a SIGHUP, which the daemon takes as "reload"). */
    async stop() {
      let children: number[] = [];
      try {
        children = readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {}
      for (const c of children) {
        try {
          process.kill(c, "SIGTERM");
        } catch {}
      }
      await Promise.race([p.exited, Bun.sleep(5000)]);
      if (p.exitCode === null) p.kill("SIGKILL");
    },
  };
}

async function chat(broker: string): Promise<number> {
  const r = await fetch(`${broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }] }) });
  await r.text();
  return r.status;
}

test("on a terminal: local time, a coloured level, the component; one line per request; a short keyring line; no <N> prefixes", async () => {
  const home = tempHome("c2l-tty-");
  cleanups.push(() => removeHome(home));
  const file = join(home, ".config/cloudtolocalllm/tunnel.toml");
  await Bun.write(file, `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "local"\nurl = "${ollama.url}"\n`);
  // [secrets] backend is "auto" and there is no session bus: the keyring warning comes first.
  const t = underPty([BUN, join(REPO, "src/main.ts"), "serve", "--config", file], homeEnv(home));
  cleanups.push(() => t.stop());
  const plain = () => t.lines().map((l) => l.replace(ANSI, ""));
  await until(() => plain().find((l) => /daemon +started .*pid=\d+/.test(l)), 20_000, `the daemon's start (terminal:\n${t.out()})`);
  const broker = /broker .*listening.* url=(\S+)/.exec(plain().find((l) => /broker .*listening.* url=/.test(l))!)![1]!;
  expect(await chat(broker)).toBe(200);
  const line = await until(() => plain().find((l) => / request +200 POST \/api\/chat /.test(l)), 10_000, `the request line (terminal:\n${t.out()})`);

  // Before: "<6>info broker: …" lines without a time, and nothing per request.
  expect(line).toMatch(TTY_REQUEST_LINE);
  expect(t.out()).toContain("\x1b[32mINFO \x1b[0m");
  // Each line starts with its dim time: Bun's console.error painted every line red up to the first reset.
  for (const l of t.lines().filter((l) => l.replace(ANSI, "").trim())) expect(l).toMatch(/^\x1b\[2m\d\d:\d\d:\d\d\.\d{3}\x1b\[0m /);
  const logLines = plain().filter((l) => l.trim());
  for (const l of logLines) expect(l).toMatch(/^\d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO |WARN |ERROR) \S+ +\S/);
  const keyring = logLines.find((l) => l.includes("No desktop keyring"))!;
  expect(keyring).toMatch(/WARN  secrets  No desktop keyring \(no session bus\): secrets are kept in ~\/\.local\/state\/cloudtolocalllm\/secrets\.json$/);
  expect(keyring.length).toBeLessThan(130);
}, 60_000);

test("NO_COLOR keeps the terminal format without colour", async () => {
  const script = `import { logger } from ${JSON.stringify(join(REPO, "src/core/log.ts"))}; logger("probe").warn("plain please", { n: 1 });`;
  const t = underPty([BUN, "-e", script], { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1" });
  await t.p.exited;
  const line = t.lines().find((l) => l.includes("plain please"))!;
  expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  probe    plain please n=1$/);
  expect(t.out()).not.toContain("\x1b[");
}, 30_000);

test("under journald (JOURNAL_STREAM names the daemon's stderr) every line keeps its <N> priority, the request line too", async () => {
  const home = tempHome("c2l-journal-");
  cleanups.push(() => removeHome(home));
  const file = join(home, ".config/cloudtolocalllm/tunnel.toml");
  await Bun.write(file, `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "${ollama.url}"\n`);
  const logFile = join(home, "journal-stream");
  const fd = openSync(logFile, "w");
  const st = fstatSync(fd, { bigint: true });
  const p = Bun.spawn([BUN, join(REPO, "src/main.ts"), "serve", "--config", file], {
    env: { ...homeEnv(home), JOURNAL_STREAM: `${st.dev}:${st.ino}` },
    stdin: "ignore",
    stdout: fd,
    stderr: fd,
  });
  closeSync(fd);
  cleanups.push(() => (p.kill(), p.exited));
  const text = () => readFileSync(logFile, "utf8");
  const m = await until(() => /^<6>info broker: .*listening.* url=(\S+)/m.exec(text()), 20_000, `the broker's address (log:\n${text()})`);
  expect(await chat(m[1]!)).toBe(200);
  await until(() => /^<6>info request: 200 POST \/api\/chat model=llama3\.2:1b upstream=local /m.test(text()), 10_000, `the request line (log:\n${text()})`);
  for (const l of text().trim().split("\n")) expect(l).toMatch(/^<[3467]>(debug|info|warn|error) [\w.-]+: \S/);
}, 60_000);

test("under journald the line saying why a service did not start is an error too (<3>), the relay's and the daemon's", async () => {
  const home = tempHome("c2l-journal-fail-");
  cleanups.push(() => removeHome(home));
  const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("someone else") });
  cleanups.push(() => holder.stop(true));
  const relayConfig = join(home, "relay.toml");
  await Bun.write(relayConfig, `listen = "127.0.0.1:${holder.port}"\n`);
  for (const [cmd, config] of [["relay", relayConfig], ["serve", join(home, "no-such-dir-config")]] as const) {
    if (cmd === "serve") mkdirSync(config, { recursive: true });
    const logFile = join(home, `journal-${cmd}`);
    const fd = openSync(logFile, "w");
    const st = fstatSync(fd, { bigint: true });
    const p = Bun.spawn([BUN, join(REPO, "src/main.ts"), cmd, "--config", config], { env: { ...homeEnv(home), JOURNAL_STREAM: `${st.dev}:${st.ino}` }, stdin: "ignore", stdout: fd, stderr: fd });
    closeSync(fd);
    expect(await p.exited).not.toBe(0);
    const lines = readFileSync(logFile, "utf8").trim().split("\n");
    expect(lines.at(-1)).toMatch(new RegExp(`^<3>cloudtolocalllm-tunnel ${cmd}: `));
    for (const l of lines) expect(l).toMatch(/^<[3467]>/);
  }
});

test("the CLI's messages on a terminal are not painted red: a key created, a secret stored, are not errors", async () => {
  const home = tempHome("c2l-tty-cli-");
  cleanups.push(() => removeHome(home));
  const env = homeEnv(home);
  const key = underPty([BUN, join(REPO, "src/main.ts"), "key", "create", "probe"], env);
  await key.p.exited;
  expect(key.out()).toMatch(/^c2l_\S+\r?\nCreated key "probe"\. It is shown only now/);
  const secret = underPty(["sh", "-c", `printf %s value | ${sh(BUN)} ${sh(join(REPO, "src/main.ts"))} secret set probe`], env);
  await secret.p.exited;
  expect(secret.out()).toContain('Stored "probe" (file).');
  for (const out of [key.out(), secret.out()]) expect(out).not.toContain("\x1b[");
}, 30_000);

test("the README quotes the three forms as the daemon writes them: the journal's, a terminal's request line, a file's", () => {
  const readme = readFileSync(join(REPO, "README.md"), "utf8").replace(/\n/g, " ");
  const journal = /sd-daemon priorities \(`([^`]+)`\)/.exec(readme)?.[1];
  const tty = /In a terminal \(`cloudtolocalllm-tunnel serve`\) they read `([^`]+)`/.exec(readme)?.[1];
  const plain = /plain lines starting with an ISO time \(`([^`]+)`\)/.exec(readme)?.[1];
  expect(journal).toMatch(/^<6>info broker: …$/);
  expect(tty).toMatch(TTY_REQUEST_LINE);
  expect(plain).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info broker: …$/);
});
