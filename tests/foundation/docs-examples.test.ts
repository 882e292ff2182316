// Every fenced block of README.md and docs/*.md is read by a named test, run here, or listed with why not; the blocks a user copies that no other test ran (curl, CLI, config snippets, answer samples) run here as written, against one daemon and one relay.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, REPO, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { closedPort } from "../helpers/own-ports.ts";
import { requireTools } from "../helpers/requires.ts";
import { AGENT_TOKEN, CLIENT_KEY, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

interface Block {
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  body: string;
}

const DOCS = ["README.md", ...[...new Bun.Glob("docs/*.md").scanSync(REPO)].sort()];

/** The fenced blocks of one Markdown file, in order. */
export function fencedBlocks(doc: string, md = readFileSync(join(REPO, doc), "utf8")): Block[] {
  return [...md.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ doc, line: md.slice(0, m.index).split("\n").length, lang: m[1]!, body: m[2]! }));
}

const allBlocks = () => DOCS.flatMap((d) => fencedBlocks(d));

/** One block of a doc, found by its language and the start of its first line. */
function block(doc: string, lang: string, first: string): Block {
  const found = fencedBlocks(doc).filter((b) => b.lang === lang && b.body.startsWith(first));
  if (found.length !== 1) throw new Error(`${doc}: ${found.length} \`\`\`${lang} blocks start with ${JSON.stringify(first)}`);
  return found[0]!;
}

/** The command lines of a shell block (a trailing `# comment` kept apart: it often says what the line prints). */
const shellLines = (b: Block) =>
  b.body.split("\n").filter((l) => l.trim() && !l.startsWith("#")).map((l) => ({ cmd: l.replace(/(^|\s)#\s.*$/, "").trim(), says: /(?:^|\s)#\s(.*)$/.exec(l)?.[1] ?? "" }));

// ---- Who checks each block. `here`: a test in this file; a path: that test file reads the block from the doc; `skip`: why none runs it. ----

type Checker = { here: string } | { by: string } | { skip: string };
interface Rule {
  doc: string | RegExp;
  lang: string;
  /** The block's first line starts with this (or matches it). */
  first: string | RegExp;
  check: Checker;
}

const README_TEST = "tests/foundation/readme.test.ts";
const RULES: Rule[] = [
  { doc: "README.md", lang: "sh", first: "npm ci && npm start", check: { by: README_TEST } },
  { doc: "README.md", lang: "sh", first: "npx cloudtolocalllm-tunnel status", check: { by: README_TEST } },
  { doc: "README.md", lang: "sh", first: "npm run build && dist/", check: { by: README_TEST } },
  { doc: "README.md", lang: "sh", first: "npm test", check: { by: README_TEST } },
  { doc: "README.md", lang: "text", first: "Usage: cloudtolocalllm-tunnel ", check: { by: README_TEST } },
  { doc: "README.md", lang: "toml", first: /^(\[proxy\]|\[tunnel\]|\[auth\]|# relay\.toml)/, check: { by: README_TEST } },
  { doc: "README.md", lang: "text", first: "$ cloudtolocalllm-tunnel tunnel restart", check: { by: README_TEST } },
  { doc: "README.md", lang: "sh", first: "cloudtolocalllm-tunnel relay check --config relay.toml", check: { by: README_TEST } },
  { doc: "README.md", lang: "js", first: 'import { Ollama } from "ollama"', check: { by: README_TEST } },
  { doc: "README.md", lang: "sh", first: "curl -s http://127.0.0.1:8765/api/v1/status", check: { here: "the control API's curl examples" } },
  { doc: "README.md", lang: "sh", first: "cloudtolocalllm-tunnel status ", check: { here: "the README's daemon commands" } },
  { doc: "README.md", lang: "sh", first: "cloudtolocalllm-tunnel relay hash-token --generate", check: { here: "hash-token" } },
  { doc: "README.md", lang: "sh", first: "cloudtolocalllm-tunnel serve ", check: { here: "doctor, as the README runs it" } },
  { doc: "README.md", lang: "sh", first: "cloudtolocalllm-tunnel secret set tunnel-token", check: { here: "the secret commands" } },
  { doc: "README.md", lang: "sh", first: "cloudtolocalllm-tunnel login ", check: { skip: "needs an OIDC issuer and a browser; tests/auth/cli.test.ts and tests/auth/sign-in.e2e.test.ts run them" } },
  { doc: "README.md", lang: "sh", first: "systemctl --user enable --now", check: { skip: "needs a user systemd; tests/packaging/install-systemd.test.ts runs the unit, readme.test.ts checks the quoted Status line" } },
  { doc: "README.md", lang: "sh", first: "cloudtolocalllm-tunnel dashboard ", check: { here: "dashboard --print-url (README), and dashboard" } },
  { doc: "README.md", lang: "text", first: "Skipped because a system tool is missing:", check: { here: "the skipped-tests summary" } },
  { doc: "docs/api.md", lang: "sh", first: "TOKEN=$(cat ~/.config/cloudtolocalllm/api-token)", check: { here: "the control API's curl examples" } },
  { doc: "docs/api.md", lang: "json", first: '{ "error": { "code": "validation_failed"', check: { here: "the error sample" } },
  { doc: "docs/api.md", lang: "json", first: '{"type":"snapshot"', check: { here: "the /ws sample" } },
  { doc: "docs/api.md", lang: "ts", first: "await client.call(", check: { here: "the client sample" } },
  { doc: "docs/architecture.md", lang: "mermaid", first: "flowchart LR", check: { by: "tests/foundation/architecture.test.ts" } },
  { doc: "docs/auth.md", lang: "", first: "signed_out ──login──▶", check: { skip: "a state diagram, not input to anything" } },
  { doc: "docs/broker.md", lang: "sh", first: "export ANTHROPIC_BASE_URL=", check: { skip: "needs Claude Code; tests/broker/anthropic-messages.test.ts serves its requests" } },
  { doc: /^docs\/(broker|gateway)\.md$/, lang: "toml", first: "[[aliases]]", check: { by: README_TEST } },
  { doc: "docs/configuration.md", lang: "ts", first: "const store = new ConfigStore(", check: { skip: "a sketch of the config store's use inside src for contributors" } },
  { doc: "docs/errors.md", lang: "sh", first: "curl -s -o /dev/null -D - https://relay.example/", check: { here: "the relay's error header" } },
  { doc: "docs/errors.md", lang: "sh", first: "$ cloudtolocalllm-tunnel key create editor", check: { here: "the CLI's error line" } },
  { doc: "docs/gateway.md", lang: "sh", first: "cloudtolocalllm-tunnel key create editor", check: { here: "the key commands" } },
  { doc: "docs/protocol.md", lang: "", first: /^( 0 +1 +2|BATCH:|relay → REQUEST_HEAD)/, check: { skip: "a frame layout and a message sequence, drawn for the reader" } },
  { doc: "docs/protocol.md", lang: "", first: /^(RESPONSE_HEAD:|PING: +20 00 00000000 4330|HELLO:)/, check: { by: "src/protocol/codec.test.ts" } },
  { doc: "docs/protocol.md", lang: "", first: /^(PING: +20 00 00000000 c093|REQUEST_HEAD:)/, check: { by: "src/protocol/window-sizing.test.ts" } },
  { doc: "docs/relay-cluster.md", lang: "toml", first: /^(listen = |# \[cluster\] lines for a TLS Redis)/, check: { by: "tests/relay/cluster-docs.test.ts" } },
  { doc: "docs/relay-cluster.md", lang: "ini", first: "[Unit]", check: { by: "tests/packaging/systemd-units.test.ts" } },
  { doc: "docs/relay-cluster.md", lang: "haproxy", first: "global", check: { by: "tests/relay/cluster-helpers.ts" } },
  { doc: "docs/relay-cluster.md", lang: "nginx", first: "map $http_upgrade", check: { by: "tests/relay/cluster-helpers.ts" } },
  { doc: "docs/relay.md", lang: "sh", first: "cloudtolocalllm-tunnel relay --config", check: { here: "hash-token" } },
  { doc: "docs/relay.md", lang: "toml", first: /^(listen = |\[cors\])/, check: { here: "docs/relay.md's TOML" } },
  { doc: "docs/relay.md", lang: "js", first: "const ctl = new AbortController();", check: { here: "the web app's fetch sample" } },
];

const matches = (r: Rule, b: Block) =>
  (typeof r.doc === "string" ? r.doc === b.doc : r.doc.test(b.doc)) && r.lang === b.lang && (typeof r.first === "string" ? b.body.startsWith(r.first) : r.first.test(b.body));

test("every fenced block of README.md and docs/*.md has one rule: the test that reads it, a test here, or why none runs it", () => {
  const blocks = allBlocks();
  const unruled = blocks.filter((b) => RULES.filter((r) => matches(r, b)).length !== 1).map((b) => `${b.doc}:${b.line} \`\`\`${b.lang} ${b.body.split("\n")[0]}`);
  expect(unruled).toEqual([]);
  // A rule no block matches any more is stale (the doc changed under it).
  expect(RULES.filter((r) => !blocks.some((b) => matches(r, b))).map((r) => `${r.doc} ${r.first}`)).toEqual([]);
  // A test named as the reader exists and names the doc it reads.
  for (const r of RULES) {
    if (!("by" in r.check)) continue;
    const file = join(REPO, r.check.by);
    const docName = typeof r.doc === "string" ? r.doc : "docs/";
    expect({ file: r.check.by, readsDoc: existsSync(file) && readFileSync(file, "utf8").includes(docName.replace(/^docs\//, "")) }).toEqual({ file: r.check.by, readsDoc: true });
  }
  const here = new Set(RULES.flatMap((r) => ("here" in r.check ? [r.check.here] : [])));
  const thisFile = readFileSync(import.meta.path, "utf8");
  for (const name of here) expect({ name, tested: thisFile.includes(`test(\`${name}`) || thisFile.includes(`test("${name}`) }).toEqual({ name, tested: true });
  // The extraction itself works: the docs hold some 77 blocks. Left unrun: four diagrams, and the login, systemctl,
  // Claude Code and contributor-sketch blocks; one more is a decision to make here, not a rule to add in passing.
  expect(blocks.length).toBeGreaterThan(70);
  expect(blocks.filter((b) => "skip" in RULES.find((r) => matches(r, b))!.check).length).toBeLessThanOrEqual(8);
});

test("the inventory tells a block without a rule from one with a rule, and counts lines as an editor does", () => {
  const b = fencedBlocks("README.md", "x\n```sh\ncurl -s http://127.0.0.1:8765/api/v1/status | jq .quality\n```\n```sh\nrm -rf /\n```\n");
  expect(b.map((x) => RULES.filter((r) => matches(r, x)).length)).toEqual([1, 0]);
  expect(b[0]!.line).toBe(2);
});

test("the skipped-tests summary, as the README shows it, is what scripts/test.ts prints for such skips (its ... elide)", async () => {
  const { skipReport } = await import("../helpers/skip-log.ts");
  const shown = block("README.md", "text", "Skipped because a system tool is missing:").body.trimEnd().split("\n");
  const named = /^ {6}(\S+) › (.+)$/.exec(shown[2]!)!;
  const [, file, name] = named;
  // The test it names is one that skips without promtool.
  expect(readFileSync(join(REPO, file!), "utf8")).toContain(`requireTools(["promtool"]).test(${JSON.stringify(name)}`);
  const tests = [name!, "a second", "a third"];
  const report = skipReport(tests.map((t) => ({ file: file!, test: t, tools: [{ tool: "promtool", package: "prometheus" }], capabilities: [], failed: false }))).split("\n");
  for (const [i, line] of shown.entries()) {
    if (line.trim() === "...") continue;
    const want = line.endsWith(" ...") ? report.find((r) => r.startsWith(line.slice(0, -3))) : report[i];
    expect({ line, printed: want }).toEqual({ line, printed: line.endsWith(" ...") ? expect.stringMatching(/./) : line });
  }
});

test("the client sample, as docs/api.md shows it: each call is one tests/api/client-inputs.test.ts type-checks (tsc is part of the test command)", () => {
  const calls = block("docs/api.md", "ts", "await client.call(").body.trim().split("\n").map((l) => /client\.call\(("[A-Z]+", "[^"]+"(?:, \{ \w+:)?)/.exec(l)?.[1]);
  expect(calls).toHaveLength(3);
  const typeChecks = readFileSync(join(REPO, "tests/api/client-inputs.test.ts"), "utf8");
  for (const call of calls) expect({ call, checked: typeChecks.includes(`c.call(${call}`) }).toEqual({ call, checked: true });
  // The comment's promise, "a wrong or missing field does not compile", is an @ts-expect-error line there.
  expect(typeChecks).toContain("// @ts-expect-error a required field missing");
});

// ---- Config snippets ----

/** docs/relay.md's placeholders for a hash (`"..."`, `"9f2c..."`) stand for a real sha256, each of another token (one token in two roles is refused). */
const fillHashes = (toml: string) => {
  let n = 0;
  return toml.replace(/"[0-9a-f]*\.\.\."/g, () => `"${(++n).toString(16).padStart(64, "ab")}"`);
};

test("docs/relay.md's TOML blocks pass the relay's own check (hashes filled in; the [cors] one as the fragment of its tunnel it is)", async () => {
  const { parseRelayConfig } = await import("../../src/relay/config.ts");
  const { formatIssue } = await import("../../src/config/load.ts");
  const blocks = fencedBlocks("docs/relay.md").filter((b) => b.lang === "toml");
  expect(blocks).toHaveLength(2);
  const full = fillHashes(blocks[0]!.body);
  const r = parseRelayConfig(full, "docs/relay.md block 1");
  expect(r.ok ? [] : r.issues.map(formatIssue)).toEqual([]);
  // Every key it shows is one the relay reads: the parsed config holds them (an unknown key would have been refused above).
  expect(r.ok && r.config.tunnels[0]?.id).toBe("alice");
  // The [cors] example adds to a tunnel of the full config: its tunnel gets the agent token the full one shows.
  const fragment = fillHashes(blocks[1]!.body.replace(/^id = "alice"$/m, `id = "alice"\nagent_token_sha256 = "..."`));
  const f = parseRelayConfig(fragment, "docs/relay.md block 2");
  expect(f.ok ? [] : f.issues.map(formatIssue)).toEqual([]);
});

requireTools(["openssl"]).test("docs/relay.md's TOML, whole, passes `relay check` as its sh block runs it (a self-signed pair in place of its Let's Encrypt files)", () => {
  const checkLine = shellLines(block("docs/relay.md", "sh", "cloudtolocalllm-tunnel relay --config")).find((l) => l.cmd.includes("relay check"))!;
  expect(checkLine.cmd).toBe("cloudtolocalllm-tunnel relay check --config relay.toml");
  const dir = mkdtempSync(join(tmpdir(), "c2l-docs-examples-relay-"));
  try {
    const pki = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=relay.example.com"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    expect(pki.exitCode).toBe(0);
    const toml = fillHashes(fencedBlocks("docs/relay.md").find((b) => b.lang === "toml")!.body)
      .replace("/etc/letsencrypt/live/relay.example.com/fullchain.pem", join(dir, "cert.pem"))
      .replace("/etc/letsencrypt/live/relay.example.com/privkey.pem", join(dir, "key.pem"));
    writeFileSync(join(dir, "relay.toml"), toml);
    const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), ...checkLine.cmd.split(" ").slice(1)], { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    expect({ code: r.exitCode, out: (r.stdout.toString() + r.stderr.toString()).trim() }).toEqual({ code: 0, out: "relay.toml: ok (1 tunnel)" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);

// ---- One daemon and one relay for every command and curl example. ----

let d: DaemonProc;
let relay: RelayProc;
let bin: string;
const ports = { api: 0, broker: 0 };

beforeAll(async () => {
  ports.api = closedPort();
  ports.broker = closedPort();
  // The docs' addresses are the defaults; the daemon gets its own (a user's daemon may hold the defaults), and each example is rewritten to them.
  // Its upstream is the default one on a port where nothing listens: this machine may well run an Ollama on 11434.
  const toml = `[api]\nlisten = "127.0.0.1:${ports.api}"\n[proxy]\nlisten = "127.0.0.1:${ports.broker}"\n[secrets]\nbackend = "file"\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:${closedPort()}"\n`;
  const { hashToken } = await import("../../src/relay/auth.ts");
  // Both started at once; whichever came up is stopped by afterAll even when the other did not.
  const [daemon, relayProc] = await Promise.allSettled([
    startDaemon({ config: toml, waitFor: ["api", "broker"] }),
    startRelayProc(`listen = "127.0.0.1:0"\nagent_path = "/agent"\n[[tunnels]]\nid = "alice"\nagent_token_sha256 = "${hashToken(AGENT_TOKEN)}"\nclient_key_sha256 = ["${hashToken(CLIENT_KEY)}"]\n`),
  ]);
  if (daemon.status === "fulfilled") d = daemon.value;
  if (relayProc.status === "fulfilled") relay = relayProc.value;
  for (const r of [daemon, relayProc]) if (r.status === "rejected") throw r.reason;
  // `cloudtolocalllm-tunnel` on PATH, as after `install`: this checkout's source.
  bin = mkdtempSync(join(tmpdir(), "c2l-docs-examples-bin-"));
  writeFileSync(join(bin, "cloudtolocalllm-tunnel"), `#!/bin/sh\nexec "${BUN}" "${REPO}/src/main.ts" "$@"\n`);
  chmodSync(join(bin, "cloudtolocalllm-tunnel"), 0o755);
  // The desktop's xdg-open, as `dashboard` calls it: it keeps the URL it was given, for the test to open.
  writeFileSync(join(bin, "xdg-open"), `#!/bin/sh\nprintf '%s\\n' "$1" >> "$HOME/xdg-opened"\n`);
  chmodSync(join(bin, "xdg-open"), 0o755);
}, 60_000);

afterAll(async () => {
  await Promise.all([d?.stop(), relay?.stop()]);
  if (d) removeHome(d.home);
  if (relay) rmSync(relay.dir, { recursive: true, force: true });
  if (bin) rmSync(bin, { recursive: true, force: true });
});

/** A doc's command line with its example addresses replaced by this test's. */
const localized = (cmd: string) =>
  cmd
    .replaceAll("127.0.0.1:8765", `127.0.0.1:${ports.api}`)
    .replaceAll("127.0.0.1:11435", `127.0.0.1:${ports.broker}`)
    .replace(/https:\/\/relay\.example(\.com)?/g, relay.url.replace(/\/$/, ""));

/** Runs a shell line as a user would type it, in the daemon's HOME, with `cloudtolocalllm-tunnel` on PATH. */
function sh(cmd: string, opts: { stdin?: string; env?: Record<string, string>; cwd?: string } = {}) {
  const r = Bun.spawnSync(["bash", "-c", localized(cmd)], {
    cwd: opts.cwd ?? d.home,
    env: { ...d.env, PATH: `${bin}:${d.env.PATH}`, ...opts.env },
    stdin: opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

const withTools = requireTools(["curl", "jq"]);

withTools.test("the control API's curl examples, as written (README, docs/api.md): status through jq, and a reconnect with the token file", async () => {
  const { QUALITY_RANK } = await import("../../src/core/verdict.ts");
  const [status, reconnect] = shellLines(block("README.md", "sh", "curl -s http://127.0.0.1:8765/api/v1/status"));
  const q = sh(status!.cmd);
  expect({ code: q.code, err: q.err }).toEqual({ code: 0, err: "" });
  // jq prints the quality as a JSON string: one of the qualities status reports.
  const quality = JSON.parse(q.out);
  expect(typeof quality).toBe("string");
  expect(Object.keys(QUALITY_RANK)).toContain(quality);
  // The reconnect (README, then docs/api.md's two lines as one script): the upstreams, re-checked.
  for (const script of [reconnect!.cmd, block("docs/api.md", "sh", "TOKEN=").body]) {
    const r = sh(script);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: "" });
    const answer = JSON.parse(r.out);
    expect(answer).toEqual([expect.objectContaining({ name: "local", state: expect.any(String), lastCheck: expect.any(String) })]);
  }
  // Without the token the same call is refused with the documented code: the example's header is what makes it work.
  const bare = sh(reconnect!.cmd.replace(/-H "Authorization: [^"]*" /, ""));
  expect(JSON.parse(bare.out).error.code).toBe("unauthorized");
}, 30_000);

test("the README's daemon commands run as written against the daemon the config names (status, reconnect, reload, tunnel restart)", async () => {
  const lines = shellLines(block("README.md", "sh", "cloudtolocalllm-tunnel status "));
  expect(lines.map((l) => l.cmd)).toEqual(["cloudtolocalllm-tunnel status", "cloudtolocalllm-tunnel reconnect", "cloudtolocalllm-tunnel reload", "cloudtolocalllm-tunnel tunnel restart"]);
  const results = lines.map((l) => ({ cmd: l.cmd, ...sh(l.cmd) }));
  const [status, reconnect, reload, tunnel] = results;
  // "table of upstreams, tunnel, alerts".
  expect({ code: status!.code, err: status!.err }).toEqual({ code: 0, err: "" });
  expect(status!.out).toMatch(/^local\s+down\b/m);
  expect(status!.out).toMatch(/^tunnel disabled$/m);
  // "(--json for scripts)": the API's status document.
  expect(lines[0]!.says).toContain("--json for scripts");
  const json = sh(`${lines[0]!.cmd} --json`);
  expect(json.code).toBe(0);
  expect(Object.keys(JSON.parse(json.out)).sort()).toEqual(Object.keys(await (await fetch(`http://127.0.0.1:${ports.api}/api/v1/status`)).json()).sort());
  // "re-check every upstream now": each upstream with its state.
  expect({ code: reconnect!.code, out: reconnect!.out.trim() }).toEqual({ code: 0, out: "local: down (connection refused)" });
  expect({ code: reload!.code, out: reload!.out.trim() }).toEqual({ code: 0, out: "configuration reloaded" });
  // This daemon has no relay configured: restarting the tunnel says what to set, with its code, and exits 1.
  expect({ code: tunnel!.code, err: tunnel!.err.trim() }).toEqual({
    code: 1,
    err: "cloudtolocalllm-tunnel tunnel: the tunnel is disabled in the config: set [tunnel] enabled = true and relay_url, then reload [daemon_refused]",
  });
  // "an invalid file is reported with line and column" (and the daemon keeps the config it had).
  const good = readFileSync(d.configFile, "utf8");
  const bad = good.replace(/^\[api\]\n(listen = .*\n)/m, '[api]\n$1body_limit = "x"\n');
  expect(bad.split("\n")[2]).toBe('body_limit = "x"');
  writeFileSync(d.configFile, bad);
  try {
    // The wrong value is in [api] itself, beside the listen line the CLI finds the daemon by: that line still counts.
    const r = sh(lines[2]!.cmd);
    expect({ code: r.code, err: r.err }).toEqual({
      code: 2,
      err: `cloudtolocalllm-tunnel reload: the config file was rejected; the daemon keeps its running configuration.\n${d.configFile}:3:1: api.body_limit: expected a whole number, got "x"\n`,
    });
  } finally {
    writeFileSync(d.configFile, good);
  }
  expect(sh(lines[2]!.cmd).code).toBe(0);
}, 60_000);

test("doctor, as the README runs it: a checklist, a fix under each problem, exit 1 when something needed is broken (serve and tray run for good: readme.test.ts checks they exist)", () => {
  const lines = shellLines(block("README.md", "sh", "cloudtolocalllm-tunnel serve "));
  const doctor = lines.find((l) => l.cmd === "cloudtolocalllm-tunnel doctor")!;
  expect(doctor.says).toContain("exit 1 when something needed is broken");
  const r = sh(doctor.cmd);
  // The upstream is down: needed, so broken.
  expect({ code: r.code, err: r.err }).toEqual({ code: 1, err: "" });
  const out = r.out.split("\n");
  expect(out).toContainEqual(expect.stringMatching(/^✓ Daemon +the control API answers at http:\/\/127\.0\.0\.1:\d+ /));
  const problems = out.flatMap((l, i) => (/^[✗!] /.test(l) ? [{ check: l, fix: out[i + 1] ?? "" }] : []));
  expect(problems).toContainEqual({ check: expect.stringMatching(/^✗ Upstream "local" /), fix: expect.stringContaining("fix: is Ollama running?") });
  for (const p of problems) expect(p).toEqual({ check: p.check, fix: expect.stringMatching(/^ +fix: /) });
  // The closing count is the ✗ lines' (the ! ones are warnings; which warnings depends on the machine's desktop).
  const fails = problems.filter((p) => p.check.startsWith("✗")).length;
  expect(out).toContainEqual(expect.stringMatching(new RegExp(`^${fails} problems? to fix\\b`)));
}, 30_000);

test("the secret commands, as written (README): set from stdin and from a pipe, get, list, delete", () => {
  const lines = shellLines(block("README.md", "sh", "cloudtolocalllm-tunnel secret set tunnel-token"));
  const run = lines.map((l, i) => ({ cmd: l.cmd, ...sh(l.cmd, { stdin: i === 0 ? "agent-secret" : undefined, env: { KEY: "sk-from-env" } }) }));
  expect(run.map((r) => ({ cmd: r.cmd, code: r.code }))).toEqual(lines.map((l) => ({ cmd: l.cmd, code: 0 })));
  // "reads the value from stdin": get prints what set read; list names both; the value never is an argument.
  expect(run.find((r) => r.cmd === "cloudtolocalllm-tunnel secret get tunnel-token")!.out.trim()).toBe("agent-secret");
  expect(run.find((r) => r.cmd === "cloudtolocalllm-tunnel secret list")!.out.trim().split("\n").sort()).toEqual(["openai-key", "tunnel-token"]);
  expect(sh("cloudtolocalllm-tunnel secret list").out.trim()).toBe("tunnel-token");
  sh("cloudtolocalllm-tunnel secret delete tunnel-token");
}, 60_000);

test("the key commands, as written (docs/gateway.md): create prints the key once, list and show never do, revoke ends it", () => {
  const lines = shellLines(block("docs/gateway.md", "sh", "cloudtolocalllm-tunnel key create editor"));
  const run = lines.map((l) => ({ cmd: l.cmd, says: l.says, ...sh(l.cmd) }));
  expect(run.map((r) => ({ cmd: r.cmd, code: r.code, err: r.code ? r.err : "" }))).toEqual(lines.map((l) => ({ cmd: l.cmd, code: 0, err: "" })));
  // "`create` prints the key (`c2l_` + 43 characters) once on stdout."
  const created = run.filter((r) => r.cmd.includes("key create")).map((r) => r.out.trim());
  for (const key of created) expect(key).toMatch(/^c2l_[A-Za-z0-9_-]{43}$/);
  for (const r of run.filter((x) => !x.cmd.includes("key create"))) for (const key of created) expect(r.out + r.err).not.toContain(key);
  const list = run.find((r) => r.cmd === "cloudtolocalllm-tunnel key list")!.out;
  expect(list).toMatch(/^editor\s.*llama3\*,qwen2\.5:\*\s+60\s+200000\s+2\b/m);
  expect(list).toMatch(/^ops\s.*\byes\b/m);
  expect(sh("cloudtolocalllm-tunnel key list").out).not.toMatch(/^editor\s/m);
  sh("cloudtolocalllm-tunnel key revoke ops");
}, 60_000);

test("the CLI's error line, as docs/errors.md shows it: a keys file that does not parse, the sentence with its code in brackets, exit 1", () => {
  const b = block("docs/errors.md", "sh", "$ cloudtolocalllm-tunnel key create editor");
  const [cmd, shown, , exit] = b.body.split("\n");
  const keysFile = join(d.home, ".local/state/cloudtolocalllm/keys.json");
  writeFileSync(keysFile, "{ not json", { mode: 0o600 });
  try {
    const r = sh(cmd!.slice(2));
    expect({ code: r.code, out: r.out }).toEqual({ code: Number(exit), out: "" });
    // The doc's `~` is the user's home; `(…)` stands for the parser's words.
    const pattern = shown!.replace("~", d.home).split("(…)").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("\\(.+\\)");
    expect(r.err.trim()).toMatch(new RegExp(`^${pattern}$`));
  } finally {
    rmSync(keysFile, { force: true });
  }
}, 30_000);

test("dashboard --print-url (README), and dashboard: each gives a link that signs a browser in once", async () => {
  const lines = shellLines(block("README.md", "sh", "cloudtolocalllm-tunnel dashboard "));
  expect(lines.map((l) => l.cmd)).toEqual(["cloudtolocalllm-tunnel dashboard", "cloudtolocalllm-tunnel dashboard --print-url"]);
  expect(lines[0]!.says).toContain("opens the browser (xdg-open)");
  expect(lines[1]!.says).toContain("works once");
  const links: string[] = [];
  for (const l of lines) {
    const r = sh(l.cmd);
    expect({ cmd: l.cmd, code: r.code }).toEqual({ cmd: l.cmd, code: 0 });
    links.push(l.cmd.endsWith("--print-url") ? r.out.trim() : readFileSync(join(d.home, "xdg-opened"), "utf8").trim());
  }
  for (const link of links) {
    expect(link).toStartWith(`http://127.0.0.1:${ports.api}/`);
    const first = await fetch(link, { redirect: "manual" });
    const second = await fetch(link, { redirect: "manual" });
    expect(first.status).toBeLessThan(400);
    expect(first.headers.get("set-cookie")).toBeTruthy();
    expect(second.headers.get("set-cookie")).toBeNull();
  }
}, 30_000);

withTools.test("the relay's error header, as docs/errors.md shows it: a wrong key gets `x-c2l-error-code: unauthorized`", () => {
  const [line] = shellLines(block("docs/errors.md", "sh", "curl -s -o /dev/null -D - https://relay.example/"));
  const said = block("docs/errors.md", "sh", "curl -s -o /dev/null -D - https://relay.example/").body.split("\n")[1]!.replace(/^# /, "");
  const r = sh(line!.cmd);
  expect({ code: r.code, out: r.out.trim() }).toEqual({ code: 0, out: said });
}, 30_000);

test("the web app's fetch sample, as docs/relay.md shows it, run as is: an offline tunnel's refusal reads as its code and sentence (the whole sample, its stream and Stop, runs in Chromium in tests/relay/browser-docs-sample.e2e.test.ts)", async () => {
  const code = localized(block("docs/relay.md", "js", "const ctl = new AbortController();").body);
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<void>;
  const output = { textContent: "" };
  // The page's globals: its Stop button, its output element, the key it holds and the user's prompt.
  const run = new AsyncFunction("stopButton", "output", "key", "prompt", code);
  const thrown = await run({}, output, CLIENT_KEY, "hi").then(() => null, (e: Error) => e.message);
  // No agent is connected to this relay: the Ollama-dialect error's `error` is a sentence, never "[object Object]".
  expect(thrown).toMatch(/^tunnel_offline: \S.*alice/);
  expect(output.textContent).toBe("");
}, 30_000);

/** The two sample bodies of a code's row in docs/errors.md's table: what an Ollama path and an OpenAI path see. */
function errorsRow(code: string): { status: number; ollama: string; openai: string } {
  const row = readFileSync(join(REPO, "docs/errors.md"), "utf8").split("\n").find((l) => l.startsWith(`| \`${code}\` |`))!;
  const cells = row.split(" | ");
  const body = (cell: string) => /^`(\{.*\})`/.exec(cell.trim())![1]!;
  return { status: Number(cells[1]), ollama: body(cells[3]!), openai: body(cells[4]!) };
}

/** A sample body with `…` where words are left out, as a pattern for the body the product sends. */
const samplePattern = (sample: string) => new RegExp(`^${sample.split(/ ?… ?/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);

test("the errors.md table's samples, as each listener sends them: the status, the header and both dialects' bodies", async () => {
  const broker = `http://127.0.0.1:${ports.broker}`;
  // Each code with a call that gets it here, on an Ollama path and on an OpenAI one.
  const cases: { code: string; ollama: [string, RequestInit]; openai: [string, RequestInit] }[] = [
    { code: "unauthorized", ollama: [`${relay.url}/t/alice/api/chat`, { method: "POST", headers: { authorization: "Bearer wrong" }, body: "{}" }], openai: [`${relay.url}/t/alice/v1/chat/completions`, { method: "POST", headers: { authorization: "Bearer wrong" }, body: "{}" }] },
    { code: "tunnel_offline", ollama: [`${relay.url}/t/alice/api/chat`, { method: "POST", headers: { authorization: `Bearer ${CLIENT_KEY}` }, body: "{}" }], openai: [`${relay.url}/t/alice/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${CLIENT_KEY}` }, body: "{}" }] },
    { code: "origin_not_allowed", ollama: [`${broker}/api/chat`, { method: "POST", headers: { origin: "https://evil.example" }, body: "{}" }], openai: [`${broker}/v1/chat/completions`, { method: "POST", headers: { origin: "https://evil.example" }, body: "{}" }] },
    { code: "host_not_allowed", ollama: [`${broker}/api/chat`, { method: "POST", headers: { host: "evil.example" }, body: "{}" }], openai: [`${broker}/v1/chat/completions`, { method: "POST", headers: { host: "evil.example" }, body: "{}" }] },
    { code: "upstream_error", ollama: [`${broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "llama3.2", messages: [] }) }], openai: [`${broker}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "llama3.2", messages: [] }) }] },
  ];
  for (const c of cases) {
    const row = errorsRow(c.code);
    for (const dialect of ["ollama", "openai"] as const) {
      const [url, init] = c[dialect];
      const res = await fetch(url, init);
      const body = await res.text();
      const said = row[dialect];
      expect({ code: c.code, dialect, status: res.status, header: res.headers.get("x-c2l-error-code"), body }).toEqual({
        code: c.code,
        dialect,
        status: row.status,
        header: c.code,
        body: said.includes("…") ? expect.stringMatching(samplePattern(said)) : said,
      });
      // The row's "(with `WWW-Authenticate: …`)", for the relay's 401.
      if (c.code === "unauthorized") expect(res.headers.get("www-authenticate")).toBe(/with `WWW-Authenticate: ([^`]+)`/.exec(readFileSync(join(REPO, "docs/errors.md"), "utf8"))![1]!);
    }
  }
}, 30_000);

/** The keys of a docs table's shorthand answer (`{"status":"ok","version"}`), with the values it gives. */
const shorthand = (sample: string) => Object.fromEntries([...sample.matchAll(/"(\w+)"(?::("[^"]*"|\w+))?/g)].map((m) => [m[1]!, m[2] === undefined ? undefined : m[2].startsWith('"') ? JSON.parse(m[2]) : m[2]]));

test("the relay's health routes, as docs/relay.md's table answers them: /healthz and /readyz, their fields and values", async () => {
  const table = readFileSync(join(REPO, "docs/relay.md"), "utf8").split("\n");
  for (const route of ["/healthz", "/readyz"]) {
    const row = table.find((l) => l.startsWith(`| \`GET ${route}\` |`))!;
    const said = shorthand(/`(\{[^`]*\})`/.exec(row)![1]!);
    const res = await fetch(`${relay.url.replace(/\/$/, "")}${route}`);
    expect(res.status).toBe(200);
    const got = await res.json();
    expect(Object.keys(got).sort()).toEqual(Object.keys(said).sort());
    // A value the table gives is the value; N stands for a number, a bare name for any value.
    for (const [k, v] of Object.entries(said)) if (v !== undefined) expect({ k, v: got[k] }).toEqual({ k, v: v === "N" ? expect.any(Number) : v });
  }
});

test("hash-token, as the README and docs/relay.md write it: --generate labels a token and its hash; stdin gets the sha256 of the file", () => {
  for (const b of [block("README.md", "sh", "cloudtolocalllm-tunnel relay hash-token --generate"), block("docs/relay.md", "sh", "cloudtolocalllm-tunnel relay --config")]) {
    for (const { cmd } of shellLines(b).filter((l) => l.cmd.includes("hash-token"))) {
      const dir = mkdtempSync(join(tmpdir(), "c2l-docs-examples-"));
      try {
        // As `echo "$TOKEN" > token.txt` writes it: the newline is not part of the token (secret set drops it too).
        writeFileSync(join(dir, "token.txt"), "my-agent-token\n");
        const r = sh(cmd, { cwd: dir });
        expect({ cmd, code: r.code }).toEqual({ cmd, code: 0 });
        if (cmd.includes("--generate")) {
          const token = /^token: (\S+)$/m.exec(r.out)?.[1];
          const hash = /^hash: +([0-9a-f]{64})$/m.exec(r.out)?.[1];
          expect(hash).toBe(new Bun.CryptoHasher("sha256").update(token!).digest("hex"));
        } else expect(r.out.trim()).toBe(new Bun.CryptoHasher("sha256").update("my-agent-token").digest("hex"));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}, 30_000);

test("the error sample, as docs/api.md shows it: an invalid config PUT gets that shape, code, message and details", async () => {
  const sample = block("docs/api.md", "json", '{ "error": { "code": "validation_failed"').body;
  // The sample's "..." are the parser's words: the rest is the shape.
  const shape = JSON.parse(sample);
  const token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
  const [, line, column] = /line (\d+), column (\d+)/.exec(shape.error.message)!.map(Number);
  // A TOML config whose body_limit, on the sample's line and column, is not a number.
  const toml = `[api]\nlisten = "127.0.0.1:${ports.api}"\nbody_limit = "x"\n`;
  expect(toml.split("\n")[line! - 1]!.indexOf("body_limit") + 1).toBe(column!);
  const res = await fetch(`http://127.0.0.1:${ports.api}/api/v1/config`, { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-type": "application/toml" }, body: toml });
  expect(res.status).toBe(422);
  const got = await res.json();
  expect(Object.keys(got)).toEqual(Object.keys(shape));
  expect(Object.keys(got.error).sort()).toEqual(Object.keys(shape.error).sort());
  expect(got.error.code).toBe(shape.error.code);
  expect(got.error.message).toStartWith(shape.error.message.replace(/\.\.\.$/, ""));
  expect(got.error.details).toHaveLength(1);
  expect(Object.keys(got.error.details[0]).sort()).toEqual(Object.keys(shape.error.details[0]).sort());
  expect(got.error.details[0]).toMatchObject({ path: shape.error.details[0].path, line: shape.error.details[0].line, column: shape.error.details[0].column });
}, 30_000);

test("the /ws sample, as docs/api.md shows it: the snapshot's fields, the event's and the tick's are what the daemon sends", async () => {
  const lines = block("docs/api.md", "json", '{"type":"snapshot"').body.trim().split("\n");
  // The sample elides with {...} and [...]: read it as JSON with those filled.
  const samples = lines.map((l) => JSON.parse(l.replaceAll("{...}", "{}").replaceAll("[...]", "[]")));
  const token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
  const ws = new WebSocket(`ws://127.0.0.1:${ports.api}/ws`, { headers: { authorization: `Bearer ${token}` } } as unknown as string[]);
  const got: Record<string, { type: string; data: Record<string, unknown> }> = {};
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${Object.keys(got)} in 15 s`)), 15_000);
    ws.onmessage = (e) => {
      const m = JSON.parse(String(e.data));
      got[m.type] ??= m;
      if (got.snapshot && got["metrics.tick"]) {
        clearTimeout(timer);
        resolve();
      }
    };
    ws.onerror = () => reject(new Error("ws error"));
  });
  ws.close();
  const [snapshot, , tick] = samples;
  expect(Object.keys(got.snapshot!).sort()).toEqual(Object.keys(snapshot).sort());
  expect(Object.keys(got.snapshot!.data).sort()).toEqual(Object.keys(snapshot.data).sort());
  expect(Object.keys(got["metrics.tick"]!).sort()).toEqual(Object.keys(tick).sort());
  expect(Object.keys(got["metrics.tick"]!.data).sort()).toEqual(Object.keys(tick.data).sort());
  expect(Object.keys(got["metrics.tick"]!.data.tunnel as object).sort()).toEqual(Object.keys(tick.data.tunnel).sort());
  // The event line's fields are those of upstream.state (docs/api.md's event table).
  const { WS_MESSAGES } = await import("../../src/api/modules/ws/messages.ts");
  expect(Object.keys(WS_MESSAGES)).toContain(samples[1].type);
}, 30_000);

/** A snippet's tables set into a config as the README says to: a table's keys changed in place, a list entry replacing the one of its name or added. */
function applySnippet(config: Record<string, unknown>, snippet: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(snippet)) {
    if (Array.isArray(v)) {
      const list = ((config[k] as { name?: string }[] | undefined) ??= []);
      for (const item of v as { name?: string }[]) {
        const i = list.findIndex((x) => x.name === item.name);
        if (i >= 0) list[i] = { ...list[i], ...item };
        else list.push(item);
      }
    } else config[k] = { ...(config[k] as object | undefined), ...(v as object) };
  }
}

test("the daemon's TOML snippets (README, docs/broker.md, docs/gateway.md), set into the first-run file as the README says, are taken by the running daemon", async () => {
  const { parse } = await import("smol-toml");
  const { defaultConfigText } = await import("../../src/config/render.ts");
  const token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
  const original = readFileSync(d.configFile, "utf8");
  const snippets = ["README.md", "docs/broker.md", "docs/gateway.md"].flatMap((doc) => fencedBlocks(doc).filter((b) => b.lang === "toml" && !/^# relay\.toml\b/.test(b.body)));
  expect(snippets.length).toBeGreaterThanOrEqual(5);
  // Pasted as a whole after the first-run file, a table it has already is refused (the README: "pasting them twice is rejected").
  const { parseConfig } = await import("../../src/config/load.ts");
  expect(parseConfig(`${defaultConfigText()}\n${block("README.md", "toml", "[proxy]").body}`).ok).toBe(false);
  // So each README snippet of a table that file has says, in the paragraph that leads to it, that the first run wrote it.
  const firstRun = parse(defaultConfigText()) as Record<string, unknown>;
  const readmeLines = readFileSync(join(REPO, "README.md"), "utf8").split("\n");
  for (const b of snippets.filter((x) => x.doc === "README.md")) {
    const tables = Object.entries(parse(b.body)).filter(([k, v]) => !Array.isArray(v) && k in firstRun).map(([k]) => k);
    if (tables.length === 0) continue;
    const before = readmeLines.slice(0, b.line - 1);
    while (before.at(-1)?.trim() === "") before.pop();
    const lead = before.slice(before.findLastIndex((l) => l.trim() === "") + 1).join(" ");
    expect({ block: `README.md:${b.line}`, tables, lead: /first run/.test(lead) }).toEqual({ block: `README.md:${b.line}`, tables, lead: true });
  }
  try {
    for (const b of snippets) {
      const config = parse(defaultConfigText()) as Record<string, Record<string, unknown>>;
      applySnippet(config, parse(b.body) as Record<string, unknown>);
      // This test's own addresses, and nothing reached off this machine: upstreams, relay and issuer on closed loopback ports.
      Object.assign(config.api!, { listen: `127.0.0.1:${ports.api}` });
      Object.assign(config.proxy!, { listen: `127.0.0.1:${ports.broker}` });
      config.secrets = { backend: "file" };
      for (const u of config.upstreams as unknown as { url: string }[]) u.url = `http://127.0.0.1:${closedPort()}`;
      if (config.tunnel!.relay_url) config.tunnel!.relay_url = `ws://127.0.0.1:${closedPort()}/agent`;
      if (config.auth!.issuer) config.auth!.issuer = `https://127.0.0.1:${closedPort()}/`;
      const res = await fetch(`http://127.0.0.1:${ports.api}/api/v1/config`, { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(config) });
      const answer = await res.json();
      expect({ block: `${b.doc}:${b.line}`, status: res.status, reload: answer.reload?.ok }).toEqual({ block: `${b.doc}:${b.line}`, status: 200, reload: true });
    }
    // The README's fallback upstream names a secret not stored yet: the daemon says how to store it, and carries on.
    expect(d.stderr()).toContain('auth secret "workstation-key" not found; sending no credentials until it is stored (`cloudtolocalllm-tunnel secret set workstation-key`)');
  } finally {
    await fetch(`http://127.0.0.1:${ports.api}/api/v1/config`, { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-type": "application/toml" }, body: original });
  }
}, 30_000);
