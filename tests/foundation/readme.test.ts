// README's `cli` and `config` sections must match what scripts/gen-docs.ts generates from the command table and the schema,
// every command the README shows works as written after its Quick start, and the screenshots the suite takes are shown.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeHome, startDaemon, TEST_DAEMON_TOML } from "../helpers/daemon.ts";
import { README, renderCliSection, renderConfigSection, sectionOf } from "../../scripts/gen-docs.ts";

const HINT = "README.md is out of date: run `bun scripts/gen-docs.ts` and commit README.md";

test("the configuration reference is the schema's", () => {
  const readme = readFileSync(README, "utf8");
  const want = renderConfigSection().trim();
  if (sectionOf(readme, "config") !== want) console.error(HINT);
  expect(sectionOf(readme, "config")).toBe(want);
});

test("each [[array]] section says what one table stands for: an upstream, an alias", () => {
  const config = renderConfigSection();
  const after = (header: string) => config.slice(config.indexOf(`### \`${header}\``)).split("\n").slice(2, 3)[0];
  expect(after("[[upstreams]]")).toEndWith("Repeat the table for each upstream.");
  expect(after("[[aliases]]")).toEndWith("Repeat the table for each alias.");
});

test("the CLI reference is the commands' --help texts", async () => {
  const readme = readFileSync(README, "utf8");
  const want = (await renderCliSection()).trim();
  if (sectionOf(readme, "cli") !== want) console.error(HINT);
  expect(sectionOf(readme, "cli")).toBe(want);
});

test("the Quick start's two commands are the ones package.json and .ci/run provide", () => {
  const readme = readFileSync(README, "utf8");
  expect(readme).toContain("npm ci && npm start");
  expect(readme).toMatch(/^npm test\b/m);
  const pkg = JSON.parse(readFileSync(README.replace(/README\.md$/, "package.json"), "utf8"));
  expect(pkg.scripts.start).toMatch(/\bserve\b/);
  expect(pkg.scripts.test).toBe("bun scripts/test.ts");
  expect(readFileSync(README.replace(/README\.md$/, ".ci/run"), "utf8")).toMatch(/^npm test$/m);
});

// ---- Every command the README shows works as written after the Quick start (issue 12, item 13). ----

const REPO_DIR = README.replace(/\/README\.md$/, "");
const pkgJson = () => JSON.parse(readFileSync(join(REPO_DIR, "package.json"), "utf8"));

/** Shell commands the README shows: every line of its sh blocks, and inline code that runs one of our programs. */
function readmeCommands(readme: string): string[] {
  const out: string[] = [];
  const fence = /^```(\w*)\n([\s\S]*?)^```$/gm;
  for (const m of readme.matchAll(fence)) {
    // A block that shows a session (`$ command`, then its output) holds commands only on its prompt lines; so may a text block.
    const lines = m[2]!.split("\n");
    const session = lines.some((l) => l.startsWith("$ "));
    if (!["sh", "bash", "shell", "console"].includes(m[1]!) && !(m[1] === "text" && session)) continue;
    for (const line of session ? lines.filter((l) => l.startsWith("$ ")).map((l) => l.slice(2)) : lines) {
      const cmd = line.replace(/(^|\s)#\s.*$/, "").trim();
      if (cmd) out.push(cmd);
    }
  }
  const prose = readme.replace(fence, "");
  for (const m of prose.matchAll(/`([^`]+)`/g)) {
    const cmd = m[1]!.replace(/\s+/g, " ").trim();
    // `cloudtolocalllm-tunnel serve: the broker cannot listen…` quotes what the CLI prints, not a command.
    if (/^\S*cloudtolocalllm-tunnel( [\w-]+)*:\s/.test(cmd)) continue;
    if (simpleCommands(cmd).some((words) => OURS.has(program(words)))) out.push(cmd);
  }
  return out;
}

const OURS = new Set(["cloudtolocalllm-tunnel", "npm", "npx", "bun"]);
const program = (words: string[]) => (words[0] ?? "").split("/").pop()!;

/** The simple commands of a command line, each as words, without `sudo` and variable assignments. */
function simpleCommands(line: string): string[][] {
  return line.split(/\s*(?:&&|\|\||[|;&])\s*/).map((part) => {
    const words = part.split(" ").filter(Boolean);
    while (words[0] === "sudo" || /^[A-Z_]+=/.test(words[0] ?? "")) words.shift();
    return words;
  });
}

const placeholder = (w: string) => /^[A-Z][A-Z_.]*$/.test(w) || /^[[<]/.test(w) || w.includes("…") || w.includes("...");
const inText = (text: string, word: string) => new RegExp(`(^|[\\s|\\[(,])${word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([\\s|\\]),=]|$)`, "m").test(text);

/** Why `words` (a cloudtolocalllm-tunnel command line, program first) would not work, or null. */
async function cliProblem(words: string[]): Promise<string | null> {
  const { findCommand } = await import("../../src/cli/commands.ts");
  const args = words.slice(1);
  const first = args[0];
  if (first === undefined || placeholder(first) || ["--help", "-h", "help", "--version", "-V"].includes(first)) return null;
  const name = first.startsWith("-") ? "serve" : first;
  const entry = findCommand(name);
  if (!entry) return `there is no command "${name}"`;
  const cmd = (await entry.load()).default;
  const rest = name === first ? args.slice(1) : args;
  let help = cmd.help;
  const positional = rest[0] !== undefined && !rest[0].startsWith("-") && !placeholder(rest[0]) ? rest[0] : null;
  if (positional && cmd.subcommands) {
    if (!cmd.subcommands.includes(positional)) return `"${name}" has no subcommand "${positional}"`;
    help = (await cmd.helpFor?.([positional])) ?? help;
  } else if (positional && !inText(cmd.help, positional)) return `"${positional}" is not in the usage of "${name}"`;
  for (const w of rest) {
    if (!w.startsWith("-") || w === "-" || placeholder(w)) continue;
    const opt = w.split("=")[0]!;
    if (opt !== "--help" && !inText(help, opt)) return `"${name}" has no option ${opt}`;
  }
  return null;
}

/** Why a `bun …` or `npm …` command line would not work after `npm ci`, or null. */
function toolProblem(words: string[]): string | null {
  const scripts = pkgJson().scripts as Record<string, string>;
  const [prog, sub, arg] = [program(words), words[1], words[2]];
  if (prog === "npm") {
    if (sub === "run") return arg && arg in scripts ? null : `package.json has no script "${arg}"`;
    return ["ci", "start", "test", "install", "exec"].includes(sub ?? "") ? null : `"npm ${sub}" is not a command this README should need`;
  }
  if (prog === "bun") {
    if (sub === "run") return arg && arg in scripts ? null : `package.json has no script "${arg}"`;
    if (sub === undefined || sub === "test" || sub.startsWith("-") || placeholder(sub)) return null;
    return existsSync(join(REPO_DIR, sub)) ? null : `bun runs ${sub}, which does not exist`;
  }
  return null;
}

/** Why each of our commands in `markdown` would not work as written, and how many were checked. */
async function commandProblems(markdown: string, where: string): Promise<{ problems: string[]; checked: number }> {
  const problems: string[] = [];
  let checked = 0;
  for (const line of readmeCommands(markdown)) {
    for (let words of simpleCommands(line)) {
      if (program(words) === "npx") words = words.slice(1);
      if (!OURS.has(program(words))) continue;
      checked++;
      const why = program(words) === "cloudtolocalllm-tunnel" ? await cliProblem(words) : toolProblem(words);
      if (why) problems.push(`${where}: \`${line}\`: ${why}`);
    }
  }
  return { problems, checked };
}

test("every cloudtolocalllm-tunnel, npx, npm and bun command the README shows exists as written (commands, subcommands, options, scripts, files)", async () => {
  const { problems, checked } = await commandProblems(readFileSync(README, "utf8"), "README.md");
  expect(problems).toEqual([]);
  // The extraction itself works: the README shows dozens of them.
  expect(checked).toBeGreaterThan(30);
});

test("every such command in docs/*.md exists as written too (the README sends readers there for the details)", async () => {
  const problems: string[] = [];
  let checked = 0;
  for (const doc of [...new Bun.Glob("docs/*.md").scanSync(REPO_DIR)].sort()) {
    const r = await commandProblems(readFileSync(join(REPO_DIR, doc), "utf8"), doc);
    problems.push(...r.problems);
    checked += r.checked;
  }
  expect(problems).toEqual([]);
  expect(checked).toBeGreaterThan(30);
});

/** The cloudtolocalllm-tunnel commands the program's own texts name in backticks (fixes, hints, errors), interpolations as placeholders. */
function sourceCommands(text: string): string[] {
  return [...text.matchAll(/\\?`((?:cloudtolocalllm-tunnel|\$\{BINARY_NAME\}) [^`\\]*)\\?`/g)].map((m) => m[1]!.replace(/^\$\{BINARY_NAME\}/, "cloudtolocalllm-tunnel").replace(/\$\{[^}]*\}/g, "VALUE"));
}

test("every cloudtolocalllm-tunnel command the program itself tells a user to run (fixes, hints, errors in src/ and tray/) exists as written", async () => {
  const problems: string[] = [];
  let checked = 0;
  for (const file of [...new Bun.Glob("{src,tray}/**/*.ts").scanSync(REPO_DIR)].filter((f) => !f.endsWith(".test.ts")).sort()) {
    for (const line of sourceCommands(readFileSync(join(REPO_DIR, file), "utf8"))) {
      checked++;
      const why = await cliProblem(line.split(" ").filter(Boolean));
      if (why) problems.push(`${file}: \`${line}\`: ${why}`);
    }
  }
  expect(problems).toEqual([]);
  expect(checked).toBeGreaterThan(30);
  // The extraction reads escaped backticks in template literals and plain ones in strings alike.
  expect(sourceCommands("x(`run \\`cloudtolocalllm-tunnel config valdate\\``); y(\"run `${BINARY_NAME} serve --config ${f}`\")")).toEqual(["cloudtolocalllm-tunnel config valdate", "cloudtolocalllm-tunnel serve --config VALUE"]);
});

test("the extraction finds a wrong command, subcommand, option or script", async () => {
  const bad = readmeCommands(
    "```sh\ncloudtolocalllm-tunnel stauts\nnpx cloudtolocalllm-tunnel config valdate\n```\nrun `cloudtolocalllm-tunnel dashboard --print-link` or `npm run buidl` or `bun bench/nope.ts`\n" +
      "```text\n$ cloudtolocalllm-tunnel tunnel restart --wiat 5\ncloudtolocalllm-tunnel tunnel: not connected\n```\nit prints `cloudtolocalllm-tunnel key: the keys file is not valid JSON`\n",
  );
  expect(bad).toHaveLength(6);
  const why = await Promise.all(bad.map(async (l) => {
    let words = simpleCommands(l)[0]!;
    if (program(words) === "npx") words = words.slice(1);
    return program(words) === "cloudtolocalllm-tunnel" ? cliProblem(words) : toolProblem(words);
  }));
  expect(why).toEqual([
    'there is no command "stauts"',
    '"config" has no subcommand "valdate"',
    '"tunnel" has no option --wiat',
    '"dashboard" has no option --print-link',
    'package.json has no script "buidl"',
    "bun runs bench/nope.ts, which does not exist",
  ]);
});

/** The PATH of a shell after the Quick start: npm's own node_modules/.bin (where Bun is) is not on it. */
function userPath(): string {
  return (process.env.PATH ?? "/usr/bin:/bin")
    .split(":")
    .filter((d) => d && !d.endsWith("node_modules/.bin") && !d.includes("node-gyp-bin"))
    .join(":");
}

// npx keeps its run of the checkout's package (_npx/) and a debug log (_logs/) in npm's cache: this file's own, not
// the user's ~/.npm.
const npmCache = mkdtempSync(join(tmpdir(), "c2l-npm-cache-"));
afterAll(() => rmSync(npmCache, { recursive: true, force: true }));

function npx(args: string[], env: Record<string, string> = {}) {
  // npm's once-a-day "New minor version of npm available!" notice goes to stderr: the HOME of a newcomer who just ran
  // `npm ci`, as this suite runs in, has not had it yet.
  const quiet = { npm_config_update_notifier: "false", npm_config_cache: npmCache };
  const r = Bun.spawnSync(["npx", ...args], { cwd: REPO_DIR, env: { ...process.env, ...env, ...quiet, PATH: userPath() }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

test("the Quick start's way to the command works: `npx cloudtolocalllm-tunnel` and `npx bun` in the checkout, without Bun on PATH", () => {
  const readme = readFileSync(README, "utf8");
  const quick = readme.slice(readme.indexOf("## Quick start"), readme.indexOf("<!-- section:cli -->"));
  expect(quick).toContain("npx cloudtolocalllm-tunnel status");
  expect(quick).toContain("run them as `npx cloudtolocalllm-tunnel …`");
  expect(quick).toContain("npm run build && dist/cloudtolocalllm-tunnel install");
  // npm runs the bin itself; an executable entry point keeps it from chmodding a file in the checkout.
  expect(statSync(join(REPO_DIR, pkgJson().bin["cloudtolocalllm-tunnel"])).mode & 0o111).toBe(0o111);

  const help = npx(["cloudtolocalllm-tunnel", "--help"]);
  expect(help.err).toBe("");
  expect(help.code).toBe(0);
  expect(help.out).toStartWith("Usage: cloudtolocalllm-tunnel [COMMAND] [OPTIONS]");
  const version = npx(["cloudtolocalllm-tunnel", "version"]);
  expect(version.code).toBe(0);
  expect(version.out).toStartWith(`cloudtolocalllm-tunnel ${pkgJson().version} `);
  const bun = npx(["bun", "--version"]);
  expect(bun.code).toBe(0);
  expect(bun.out.trim()).toBe(pkgJson().devDependencies.bun);
  // `npm run build` writes the binary the Quick start then runs.
  expect(pkgJson().scripts.build).toBe("bun packaging/build.ts");
}, 60_000);

test("what the Quick start says you see without an Ollama is what the daemon shows", async () => {
  const readme = readFileSync(README, "utf8");
  const quick = readme.slice(readme.indexOf("## Quick start"), readme.indexOf("<!-- section:cli -->"));
  expect(quick).toContain("an Ollama at `127.0.0.1:11434`");
  const { defaultConfig } = await import("../../src/config/load.ts");
  expect(defaultConfig().upstreams).toMatchObject([{ name: "local", url: "http://127.0.0.1:11434" }]);
  const logLine = /the log says `([^`]+)`/.exec(quick)?.[1];
  const reply = /broker gets `502 ([^`]+)`/.exec(quick)?.[1];
  // The model list (`ollama list`, Open WebUI on start) gets its own 502, with the same reason and the fix after it.
  const tagsReply = /`\/api\/tags` a 502 too, `([^`]+)…`/.exec(quick)?.[1];
  expect(logLine).toBeDefined();
  expect(reply).toBeDefined();
  expect(tagsReply).toBeDefined();

  // The default upstream, but on a port where nothing listens (this machine may well run an Ollama on 11434).
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const closed = probe.port;
  probe.stop(true);
  const d = await startDaemon({ config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:${closed}"\n`, waitFor: ["api", "broker"] });
  try {
    await d.waitFor(/upstream state changed/, 20_000);
    expect(d.stderr()).toContain(logLine!);
    const status = npx(["cloudtolocalllm-tunnel", "status", "--config", d.configFile, "--url", d.urls.api!], d.env);
    expect(status.err + status.out).toContain("quality critical");
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/^local\s+down\b.*\n  last error: connection refused$/m);
    // status fits 80 columns: the verdict's line wraps, its words unchanged.
    expect(status.out.replace(/\n +/g, " ")).toContain("health local is down: connection refused — is Ollama running? `systemctl --user start ollama` or `ollama serve`");
    expect(quick).toContain("local is down:\nconnection refused — is Ollama running? `systemctl --user start ollama` or `ollama serve`");
    const res = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "llama3.2", messages: [{ role: "user", content: "hi" }] }) });
    expect(res.status).toBe(502);
    expect(await res.text()).toBe(reply!);
    const tags = await fetch(`${d.urls.broker}/api/tags`);
    expect(tags.status).toBe(502);
    expect((await tags.json()).error).toStartWith(tagsReply!);
  } finally {
    await d.stop();
    removeHome(d.home);
  }
}, 60_000);

test("every screenshot the test suite writes to docs/screenshots is checked in and shown in the README; every image it shows exists", () => {
  const repo = REPO_DIR;
  const readme = readFileSync(README, "utf8");
  // The tests name the committed file they rewrite under C2L_UPDATE_SCREENSHOTS=1 (tests/dashboard, tests/desktop).
  const written = new Set<string>();
  for (const file of new Bun.Glob("tests/**/*.test.ts").scanSync(repo))
    for (const m of readFileSync(join(repo, file), "utf8").matchAll(/docs\/screenshots\/([\w-]+\.png)/g)) written.add(`docs/screenshots/${m[1]}`);
  expect([...written].sort()).toEqual(expect.arrayContaining(["docs/screenshots/dashboard-overview.png", "docs/screenshots/tray-tooltip.png"]));
  const shown = [...readme.matchAll(/!\[[^\]]+\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
  for (const shot of written) expect({ shot, shown: shown.includes(shot) }).toEqual({ shot, shown: true });
  for (const img of shown) expect({ img, exists: existsSync(join(repo, img)) && statSync(join(repo, img)).size > 1000 }).toEqual({ img, exists: true });
});

// ---- The config examples a reader copies, and the README's relay try-out, work as written. ----

/** The ```toml blocks of a Markdown file. */
const tomlBlocks = (md: string) => [...md.matchAll(/^```toml\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
/** A relay config block says so on its first line (`# relay.toml…`); the others are the daemon's tunnel.toml. */
const isRelayBlock = (toml: string) => /^# relay\.toml\b/.test(toml);
/** The README's placeholders for a token's hash (`"<the agent token's hash>"`) stand for a real sha256. */
const fillHashes = (toml: string, hashes: Record<string, string>) => toml.replace(/"<the (agent token|client key)'s hash>"/g, (_, which: string) => `"${hashes[which]}"`);

test("every TOML example in the README, docs/broker.md and docs/gateway.md passes the check it is for: `config validate` for tunnel.toml, `relay check` for relay.toml", async () => {
  const { parseConfig, formatIssue } = await import("../../src/config/load.ts");
  const { parseRelayConfig } = await import("../../src/relay/config.ts");
  const { hashToken } = await import("../../src/relay/auth.ts");
  const hashes = { "agent token": hashToken("a"), "client key": hashToken("b") };
  const problems: string[] = [];
  let daemonBlocks = 0;
  let readmeRelayBlocks = 0;
  for (const doc of ["README.md", "docs/broker.md", "docs/gateway.md"]) {
    for (const [i, toml] of tomlBlocks(readFileSync(join(REPO_DIR, doc), "utf8")).entries()) {
      const relay = isRelayBlock(toml);
      const r = relay ? parseRelayConfig(fillHashes(toml, hashes), `${doc} block ${i + 1}`) : parseConfig(toml, `${doc} block ${i + 1}`);
      if (!r.ok) problems.push(...r.issues.map(formatIssue));
      if (relay && doc === "README.md") readmeRelayBlocks++;
      if (!relay) daemonBlocks++;
    }
  }
  expect(problems).toEqual([]);
  expect(daemonBlocks).toBeGreaterThanOrEqual(5);
  // The README's tunnel section shows a relay config a reader can run (its `relay --config relay.toml` needs one).
  expect(readmeRelayBlocks).toBe(1);
});

test("the dashboard's size the README gives is the bundle's, gzipped (within a fifth)", async () => {
  const { DASHBOARD_CSS, DASHBOARD_JS, ICON_SVG, renderIndex } = await import("../../src/dashboard/assets.ts");
  const said = Number(/about (\d+) KB gzipped in all/.exec(sectionOf(readFileSync(README, "utf8"), "dashboard"))?.[1]);
  const kb = [renderIndex("x".repeat(32)), DASHBOARD_JS, DASHBOARD_CSS, ICON_SVG].reduce((n, p) => n + Bun.gzipSync(p).length, 0) / 1024;
  // The whole object on failure: what the README says beside what the bundle weighs now.
  expect({ said, measured: Math.round(kb), near: Math.abs(said - kb) <= kb / 5 }).toMatchObject({ near: true });
});

test("the line `systemctl --user status` shows, as the README quotes it, is the one the daemon reports to systemd", async () => {
  const { statusLine } = await import("../../src/daemon/sd-notify.ts");
  const quoted = /systemctl --user status cloudtolocalllm-tunnel +# "Status: ([^"]+)"/.exec(sectionOf(readFileSync(README, "utf8"), "install"))?.[1];
  type Args = Parameters<typeof statusLine>[0];
  const up = { enabled: true, state: "up" };
  expect(statusLine({ upstreams: [up, up], quality: "excellent", tunnel: { state: "connected" } } as unknown as Args)).toBe(quoted!);
});

/** GitHub's id for a heading: lower case, punctuation dropped, each space a hyphen. */
const headingId = (h: string) => h.trim().toLowerCase().replace(/<[^>]+>/g, "").replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
const headingIds = (md: string) => new Set(md.replace(/^```[\s\S]*?^```$/gm, "").split("\n").filter((l) => /^#{1,6} /.test(l)).map((l) => headingId(l.replace(/^#+ /, ""))));

test("every relative link in the README and docs/*.md reaches its file, and its #heading when it names one", () => {
  const broken: string[] = [];
  let checked = 0;
  for (const doc of ["README.md", ...[...new Bun.Glob("docs/*.md").scanSync(REPO_DIR)].sort()]) {
    const text = readFileSync(join(REPO_DIR, doc), "utf8");
    for (const m of text.matchAll(/\]\(([^)\s:#]*)(?:#([^)\s]+))?\)/g)) {
      const [file, id] = [m[1]!, m[2]];
      if (!file && !id) continue;
      checked++;
      const target = file ? join(REPO_DIR, doc, "..", file) : join(REPO_DIR, doc);
      if (!existsSync(target)) broken.push(`${doc}: ${m[0]} (no such file)`);
      else if (id && !(statSync(target).isFile() && headingIds(readFileSync(target, "utf8")).has(id))) broken.push(`${doc}: ${m[0]} (no such heading)`);
    }
  }
  expect(broken).toEqual([]);
  expect(checked).toBeGreaterThan(30);
  expect(headingId("Codes of the errors inside the daemon and the CLI")).toBe("codes-of-the-errors-inside-the-daemon-and-the-cli");
  expect(headingId("Desktop: tray icon, alerts, notifications, `doctor`")).toBe("desktop-tray-icon-alerts-notifications-doctor");
});

/** The `[section] key` settings a text names (`[proxy] require_key`, `[[upstreams]] max_parallel`, `[tunnel.backoff] initial`). */
const settingsNamed = (md: string) => [...md.matchAll(/`(\[\[?[a-z_.]+\]\]?) ([a-z_]+)\b/g)].map((m) => ({ section: m[1]!, key: m[2]! }));
/** Named in docs/performance.md as a design that was not built. */
const NOT_SETTINGS = new Set(["[proxy] workers"]);

test("every `[section] key` the README and docs/*.md name is a setting of the daemon's or the relay's config schema", async () => {
  const { ConfigSchema } = await import("../../src/config/schema.ts");
  const { RelayConfigSchema } = await import("../../src/relay/config-schema.ts");
  type Node = { properties?: Record<string, Node>; items?: Node; anyOf?: Node[] };
  const has = (schema: Node, path: string[]) => {
    let node: Node | undefined = schema;
    for (const name of path) {
      if (node?.items) node = node.items;
      if (node?.anyOf) node = node.anyOf.find((n) => n.properties) ?? node;
      node = node?.properties?.[name];
      if (!node) return false;
    }
    return true;
  };
  const known = ({ section, key }: { section: string; key: string }) => {
    const path = [...section.replace(/[[\]]/g, "").split("."), key];
    return has(ConfigSchema as Node, path) || has(RelayConfigSchema as Node, path);
  };
  const unknown: string[] = [];
  let checked = 0;
  for (const doc of ["README.md", ...[...new Bun.Glob("docs/*.md").scanSync(REPO_DIR)].sort()]) {
    for (const named of settingsNamed(readFileSync(join(REPO_DIR, doc), "utf8"))) {
      if (NOT_SETTINGS.has(`${named.section} ${named.key}`)) continue;
      checked++;
      if (!known(named)) unknown.push(`${doc}: ${named.section} ${named.key}`);
    }
  }
  expect(unknown).toEqual([]);
  expect(checked).toBeGreaterThan(50);
  // The check itself tells a misspelt key, a key of another section and a section that does not exist.
  expect(settingsNamed("`[proxy] max_attemps`, `[api] require_key`, `[gateway] keys`, `[[upstreams]] max_parallel`, `[cors] allowed_origins`").map(known)).toEqual([false, false, false, true, true]);
});

test("the README's relay try-out works as written: its relay.toml, its relay_url and its curl reach the local model through the tunnel", async () => {
  const { hashToken } = await import("../../src/relay/auth.ts");
  const { AGENT_TOKEN, CLIENT_KEY, daemonToml, startRelayProc } = await import("../tunnel/helpers.ts");
  const { startFakeOllama } = await import("../helpers/fake-ollama.ts");
  const { runCli } = await import("../api/cli.ts");
  const readme = readFileSync(README, "utf8");
  const section = sectionOf(readme, "tunnel");
  const relayBlock = tomlBlocks(section).find(isRelayBlock);
  expect(relayBlock).toBeDefined();
  const listen = /^listen = "([^"]+)"/m.exec(relayBlock!)![1]!;
  const relayUrl = /`relay_url = "(ws:\/\/[^"]+)"`/.exec(section)?.[1];
  const cloud = /prints the cloud URL,\s+`([^`]+)`/.exec(section)?.[1];
  const curl = /`curl -H "Authorization: Bearer \$CLIENT_KEY" (\S+)`/.exec(section)?.[1];
  expect({ relayUrl, cloud, curl }).toEqual({ relayUrl: expect.stringContaining(listen), cloud: expect.stringContaining(listen), curl: expect.stringContaining(listen) });
  // The README's port may be taken on this machine: the same config on a free one.
  const toml = fillHashes(relayBlock!, { "agent token": hashToken(AGENT_TOKEN), "client key": hashToken(CLIENT_KEY) }).replace(listen, "127.0.0.1:0");
  // llama3.2 (:latest) is the model the README's client snippet asks for.
  const fake = await startFakeOllama({ models: ["llama3.2:1b", "llama3.2:latest"] });
  const relay = await startRelayProc(toml);
  // `relay check --config relay.toml` prints what the README's comment beside it says.
  const checkSaid = /relay check --config relay\.toml +# (.+)$/m.exec(section)?.[1];
  const check = Bun.spawnSync([process.execPath, join(REPO_DIR, "src/main.ts"), "relay", "check", "--config", "relay.toml"], { cwd: relay.dir, stdout: "pipe", stderr: "pipe" });
  expect({ code: check.exitCode, out: (check.stdout.toString() + check.stderr.toString()).trim() }).toEqual({ code: 0, out: checkSaid! });
  const onRelay = (url: string) => url.replace(listen, `127.0.0.1:${relay.port}`);
  // The secret as `secret set tunnel-token` stores it: the daemon reads it from the store (CLOUDTOLOCALLLM_SECRET_* in tests).
  const d = await startDaemon({ config: daemonToml({ upstream: fake.url, relayUrl: onRelay(relayUrl!) }), env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN }, waitFor: ["api"] });
  try {
    await d.waitFor(/tunnel: connected to the relay/, 15_000);
    const restart = await runCli(d.env, "tunnel", "restart", "--url", d.urls.api!);
    expect(restart.code).toBe(0);
    expect(restart.out).toContain(`cloud URL: ${onRelay(cloud!)}`);
    // The README's example of that output (for wss://relay.example.com) is what it prints, this relay's URLs in place.
    const shown = /^```text\n\$ cloudtolocalllm-tunnel tunnel restart\n([\s\S]*?)^```$/m.exec(section)?.[1];
    const relayHttp = `http://127.0.0.1:${relay.port}`;
    expect(shown?.replaceAll("wss://relay.example.com/agent", onRelay(relayUrl!)).replaceAll("https://relay.example.com", relayHttp).trim()).toBe(restart.out.trim());
    const res = await fetch(onRelay(curl!), { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
    expect(res.status).toBe(200);
    expect((await res.json()).models.map((m: { name: string }) => m.name)).toEqual(["llama3.2:1b", "llama3.2:latest"]);
    // The README's Ollama client snippet, pasted as is (its key from $CLIENT_KEY, as the shell lines keep it) with this relay as its host.
    // Its host is the try-out's own cloud URL: a newcomer who pastes it reaches the relay just started, not relay.example.com.
    const js = /^```js\n([\s\S]*?)^```$/m.exec(section)?.[1];
    const host = /host: "([^"]+)"/.exec(js ?? "")?.[1];
    expect(host).toBe(cloud!.replace(/\/$/, ""));
    const snippet = Bun.spawn([process.execPath, "-e", js!.replace(host!, onRelay(cloud!).replace(/\/$/, ""))], { cwd: REPO_DIR, env: { ...process.env, CLIENT_KEY }, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(snippet.stdout).text(), new Response(snippet.stderr).text(), snippet.exited]);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out).toStartWith("tok0 tok1");
  } finally {
    await d.stop();
    removeHome(d.home);
    await relay.stop();
    await fake.stop();
  }
}, 60_000);

test("the README and docs name the relay's config file where the packaged relay unit reads it", () => {
  const unit = readFileSync(join(REPO_DIR, "systemd/cloudtolocalllm-relay.service"), "utf8");
  const unitFile = /^ExecStart=\S+ relay --config (\S+)$/m.exec(unit)?.[1];
  expect(unitFile).toStartWith("/etc/");
  const named: string[] = [];
  for (const doc of ["README.md", ...new Bun.Glob("docs/*.md").scanSync(REPO_DIR)])
    for (const m of readFileSync(join(REPO_DIR, doc), "utf8").matchAll(/\/etc\/[\w.-]+\/relay\.toml/g)) named.push(`${doc}: ${m[0]}`);
  expect(named.length).toBeGreaterThan(0);
  expect(named.filter((n) => !n.endsWith(`: ${unitFile}`))).toEqual([]);
});

test("no text a user reads speaks of the tray as a program of its own that starts the daemon: the daemon shows the icon, only the `tray` command is separate", async () => {
  // Phrases from before the tray moved into the daemon (a tray autostart entry, "once the tray starts the daemon").
  const stale = [/tray autostart/i, /\bthe tray start(s|ed)\b/i, /\bthe tray's \*\*Start daemon\*\*/i];
  const texts: [string, string][] = [["README.md", readFileSync(README, "utf8")]];
  for (const doc of new Bun.Glob("docs/*.md").scanSync(REPO_DIR)) texts.push([doc, readFileSync(join(REPO_DIR, doc), "utf8")]);
  for (const file of new Bun.Glob("src/cli/*.ts").scanSync(REPO_DIR)) if (!file.endsWith(".test.ts")) texts.push([file, readFileSync(join(REPO_DIR, file), "utf8")]);
  const { checkDaemonLog } = await import("../../src/cli/doctor-checks.ts");
  texts.push(["doctor's Daemon log line", checkDaemonLog({ available: false, installed: false } as Parameters<typeof checkDaemonLog>[0]).detail]);
  const found = texts.flatMap(([name, text]) => stale.filter((re) => re.test(text)).map((re) => `${name}: ${re}`));
  expect(found).toEqual([]);
});

test("the Command line section says what an error looks like, with the bracketed code the CLI prints", () => {
  const cli = sectionOf(readFileSync(README, "utf8"), "cli");
  // Nothing listens on port 9 of loopback: the "is it running?" error every daemon command gives a newcomer first.
  const r = npx(["cloudtolocalllm-tunnel", "status", "--url", "http://127.0.0.1:9"]);
  expect(r.code).toBe(1);
  const code = /\[([a-z_]+)\]$/.exec(r.err.trim())?.[1];
  expect(code).toBe("daemon_unreachable");
  expect(cli.split("\n\n")[1]).toContain(`\`[${code}]\``);
  expect(cli).toContain("docs/errors.md");
}, 30_000);
