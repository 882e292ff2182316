// Integration: the CLI and a real daemon writing on a full or read-only file system (in their own mount namespace): each failure names the file and its cause, the file and its last good backup stay whole, the daemon keeps serving.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, TEST_DAEMON_TOML, homeEnv, removeHome, startDaemon, tempHome } from "../helpers/daemon.ts";
import { ROOT } from "../helpers/other-user.ts";
import { fullDisk, mountNamespace, namespaceWrapper, readOnly } from "../helpers/mount-namespace.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { startFakeOllama } from "../helpers/fake-ollama.ts";
import { createKey } from "../../src/gateway/keys.ts";

// Real processes on a busy machine: more than bun's 5 s default.
setDefaultTimeout(30_000);

const guarded = requireTools(["unshare", "mount", mountNamespace]);
const homes: string[] = [];
afterAll(() => homes.forEach(removeHome));
const NO_LIMITS = { models: [], rpm: 0, tokens_per_day: 0, max_parallel: 0, expiresInMs: null };
const keysText = (names: string[]) => JSON.stringify({ version: 1, keys: names.map((n) => createKey(n, NO_LIMITS).record) }, null, 2) + "\n";
const TOKEN = "write-faults-test-token-0123456789abcdef";

guarded.test("key create on a full disk: exit 1 [disk_full] naming the file; keys.json and its last good .bak stay whole", () => {
  const home = tempHome("c2l-wf-full-");
  homes.push(home);
  const state = join(home, ".local/state/cloudtolocalllm");
  const seed = join(home, "seed");
  const out = join(home, "after");
  mkdirSync(state, { recursive: true });
  mkdirSync(seed);
  mkdirSync(out);
  // keys.json bigger than its .bak by more than a block: a copy over the .bak (truncated first) cannot fit.
  const current = keysText(Array.from({ length: 40 }, (_, i) => `key-${i}`));
  const previous = keysText(["key-0"]);
  writeFileSync(join(seed, "keys.json"), current, { mode: 0o600 });
  writeFileSync(join(seed, "keys.json.bak"), previous, { mode: 0o600 });
  const cli = namespaceWrapper(join(home, "cli.sh"), fullDisk(state, seed), `rm -f '${state}/.fill'; cp -a '${state}'/. '${out}'/`);
  const r = Bun.spawnSync([cli, "key", "create", "one-more"], { env: homeEnv(home), stdout: "pipe", stderr: "pipe" });
  const stderr = r.stderr.toString();
  if (r.exitCode === 97 || r.exitCode === 98) throw new Error(`the namespace set-up failed: ${stderr}`);
  expect(r.exitCode).toBe(1);
  expect(stderr).toContain(`cannot write ${join(state, "keys.json.bak")}: no space left on the disk (ENOSPC); the file was left as it was`);
  expect(stderr).toContain("[disk_full]");
  expect(readFileSync(join(out, "keys.json"), "utf8")).toBe(current);
  // Before: the .bak was truncated and cut short by the full disk (the last good backup gone, not JSON).
  expect(readFileSync(join(out, "keys.json.bak"), "utf8")).toBe(previous);
  expect(readdirSync(out).sort()).toEqual(["keys.json", "keys.json.bak"]);
});

guarded.test("secret set on a full disk (the keyring's fallback file): exit 1 [disk_full] naming secrets.json, which stays whole; the same set succeeds once there is room", () => {
  const home = tempHome("c2l-wf-secret-");
  homes.push(home);
  const cfgDir = join(home, ".config/cloudtolocalllm");
  const state = join(home, ".local/state/cloudtolocalllm");
  const seed = join(home, "seed");
  const out = join(home, "after");
  for (const dir of [cfgDir, state, seed, out]) mkdirSync(dir, { recursive: true });
  writeFileSync(join(cfgDir, "tunnel.toml"), TEST_DAEMON_TOML, { mode: 0o600 });
  const secrets = JSON.stringify({ version: 1, secrets: { "tunnel-token": "the-token-before" } }, null, 2) + "\n";
  writeFileSync(join(seed, "secrets.json"), secrets, { mode: 0o600 });
  // A value bigger than a block: it cannot fit on the full disk. Then room again, and the same set.
  const value = "v".repeat(8192);
  const set = `printf %s '${value}' | "${BUN}" "${join(REPO, "src/main.ts")}" secret set tunnel-token; echo "rc=$?" >&2`;
  // The wrapper's own run is `version`; the two sets run after it, in the namespace, each followed by a copy of the directory.
  const copy = (to: string) => `mkdir -p '${join(out, to)}' && cp -a '${state}'/. '${join(out, to)}'/`;
  const after = [set, copy("full"), `rm -f '${state}/.fill'`, set, copy("room")].join("\n");
  const r = Bun.spawnSync([namespaceWrapper(join(home, "cli.sh"), fullDisk(state, seed), after), "version"], { env: homeEnv(home), stdout: "pipe", stderr: "pipe" });
  const stderr = r.stderr.toString();
  if (r.exitCode === 97 || r.exitCode === 98) throw new Error(`the namespace set-up failed: ${stderr}`);
  expect(stderr).toContain(`cannot write ${join(state, "secrets.json")}: no space left on the disk (ENOSPC); the file was left as it was`);
  expect(stderr).toContain("[disk_full]");
  expect(stderr.match(/rc=\d+/g)).toEqual(["rc=1", "rc=0"]);
  expect(readFileSync(join(out, "full/secrets.json"), "utf8")).toBe(secrets);
  expect(readdirSync(join(out, "full")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  expect((JSON.parse(readFileSync(join(out, "room/secrets.json"), "utf8")) as { secrets: Record<string, string> }).secrets["tunnel-token"]).toBe(value);
});

guarded.test("login with the file backend on a full disk: refused before the issuer is asked, naming secrets.json and the cause (not signed in for this run only with a live grant nothing holds)", () => {
  const home = tempHome("c2l-wf-login-");
  homes.push(home);
  const cfgDir = join(home, ".config/cloudtolocalllm");
  const state = join(home, ".local/state/cloudtolocalllm");
  const seed = join(home, "seed");
  for (const dir of [cfgDir, state, seed]) mkdirSync(dir, { recursive: true });
  // An issuer nothing listens at: asked, it would fail with "cannot reach".
  writeFileSync(join(cfgDir, "tunnel.toml"), `${TEST_DAEMON_TOML}[auth]\nissuer = "http://127.0.0.1:9/realms/x"\nclient_id = "cloudtolocalllm"\n`, { mode: 0o600 });
  writeFileSync(join(seed, "secrets.json"), JSON.stringify({ version: 1, secrets: {} }) + "\n", { mode: 0o600 });
  const cli = namespaceWrapper(join(home, "cli.sh"), fullDisk(state, seed));
  const r = Bun.spawnSync([cli, "login", "--device", "--no-browser"], { env: homeEnv(home), stdout: "pipe", stderr: "pipe" });
  const stderr = r.stderr.toString();
  if (r.exitCode === 97 || r.exitCode === 98) throw new Error(`the namespace set-up failed: ${stderr}`);
  expect(r.exitCode).toBe(1);
  // Before: the issuer was asked (and with one that answers, the user signed in and the tokens were not stored).
  expect(stderr).toContain(`nothing was signed in: the tokens could not be stored: cannot write ${join(state, "secrets.json")}: no space left on the disk (ENOSPC)`);
});

guarded.test("a read-only config directory: PUT /api/v1/config answers 503 write_failed naming the file and the cause; the daemon keeps its config", async () => {
  const home = tempHome("c2l-wf-ro-");
  homes.push(home);
  const cfgDir = join(home, ".config/cloudtolocalllm");
  const state = join(home, ".local/state/cloudtolocalllm");
  mkdirSync(cfgDir, { recursive: true });
  mkdirSync(state, { recursive: true });
  const file = join(cfgDir, "tunnel.toml");
  writeFileSync(file, TEST_DAEMON_TOML, { mode: 0o600 });
  writeFileSync(join(cfgDir, "api-token"), TOKEN + "\n", { mode: 0o600 });
  writeFileSync(join(state, "keys.json"), keysText(["first"]), { mode: 0o600 });
  mkdirSync(join(state, "backups"));
  // A full set of backups (20 kept) from before, in a writable directory mounted at the backups' place.
  const backups = join(home, "backups-rw");
  mkdirSync(backups);
  const older = Array.from({ length: 20 }, (_, i) => `20261101T0000000${String(i).padStart(2, "0")}Z.toml`);
  for (const b of older) writeFileSync(join(backups, b), TEST_DAEMON_TOML, { mode: 0o600 });
  const wrapper = namespaceWrapper(join(home, "serve.sh"), `${readOnly(cfgDir)}\n${readOnly(state)}\nmount --bind '${backups}' '${join(state, "backups")}' || exit 97`);
  const d = await startDaemon({ home, binary: wrapper });
  try {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const r = await fetch(`${d.urls.api}/api/v1/config`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/toml" },
      body: TEST_DAEMON_TOML + '[logging]\nlevel = "debug"\n',
    });
    const body = (await r.json()) as { error: { code: string; message: string; details: unknown } };
    // Before: 500 internal, "internal error; the daemon log has the details", the log naming the temp file's rm.
    // Before: 500, which reads as a bug of the daemon's, not a disk the operator has to fix.
    expect({ status: r.status, ...body.error }).toEqual({
      status: 503,
      code: "write_failed",
      message: `cannot write ${file}: the file system is read-only (EROFS); the file was left as it was`,
      details: { file },
    });
    expect(d.stderr()).not.toContain(".tmp");
    // And one log line, naming the file and the cause. Before: "request failed" with the temp file's rm.
    expect(d.stderr().split("\n").filter((l) => l.includes("a file could not be written") && l.includes(`cannot write ${file}: the file system is read-only (EROFS)`))).toHaveLength(1);
    // Each failed save leaves the backups as they were. Before: each made one and pushed the oldest out.
    for (let i = 0; i < 2; i++) expect((await fetch(`${d.urls.api}/api/v1/config`, { method: "PUT", headers: { ...auth, "content-type": "application/toml" }, body: TEST_DAEMON_TOML + "# again\n" })).status).toBe(503);
    expect(readdirSync(backups).sort()).toEqual(older);
    // The same cause again within 10 s: no more lines. Before: one per refused request, as often as a client retries.
    expect(d.count(/a file could not be written/)).toBe(1);
    const running = (await (await fetch(`${d.urls.api}/api/v1/config`, { headers: auth })).json()) as { config: { logging: { level: string } } };
    expect(running.config.logging.level).toBe("info");
    // A key created through the API on a read-only state directory: the same, naming the keys file.
    const k = await fetch(`${d.urls.api}/api/v1/keys`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ name: "second" }) });
    const kb = (await k.json()) as { error: { code: string; message: string } };
    expect({ status: k.status, code: kb.error.code, message: kb.error.message }).toEqual({
      status: 503,
      code: "write_failed",
      message: `cannot write ${join(state, "keys.json")}: the file system is read-only (EROFS); the file was left as it was`,
    });
    // Still serving: the keys read at start are listed.
    const keys = (await (await fetch(`${d.urls.api}/api/v1/keys`, { headers: auth })).json()) as { name: string }[];
    expect(keys.map((x) => x.name)).toEqual(["first"]);
  } finally {
    await d.stop();
  }
});

guarded.test("the API token and secrets files mounted read-only at 0644 (a container's secret volume): the daemon starts and reads them, saying once that they stay readable", async () => {
  const home = tempHome("c2l-wf-secretvol-");
  homes.push(home);
  const cfgDir = join(home, ".config/cloudtolocalllm");
  const state = join(home, ".local/state/cloudtolocalllm");
  mkdirSync(cfgDir, { recursive: true });
  mkdirSync(state, { recursive: true });
  writeFileSync(join(cfgDir, "tunnel.toml"), `${TEST_DAEMON_TOML}[tunnel]\nenabled = true\nrelay_url = "ws://127.0.0.1:9/agent"\n`, { mode: 0o600 });
  writeFileSync(join(cfgDir, "api-token"), TOKEN + "\n", { mode: 0o644 });
  writeFileSync(join(state, "secrets.json"), JSON.stringify({ version: 1, secrets: { "tunnel-token": "agent-token-from-the-volume" } }), { mode: 0o644 });
  // Before: "EROFS: read-only file system, chmod '…/api-token'; the daemon did not start."
  const d = await startDaemon({ home, binary: namespaceWrapper(join(home, "serve.sh"), `${readOnly(cfgDir)}\n${readOnly(state)}`) });
  try {
    const status = await fetch(`${d.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(status.status).toBe(200);
    // The tunnel read its token and tried the relay (nothing listens there) twice; before, each try failed on the chmod.
    await until(() => d.count(/relay connection failed/) >= 2, 10_000, "two attempts to reach the relay");
    expect(d.stderr()).not.toContain("chmod");
    expect(d.count(/warn api: the API token file is readable by others and cannot be made 0600; it is used as it is .*reason=EROFS/)).toBe(1);
    expect(d.count(/warn secrets: secrets file is readable by others and cannot be made 0600; it is used as it is .*reason=EROFS/)).toBe(1);
    expect(d.stderr()).not.toContain("agent-token-from-the-volume");
  } finally {
    await d.stop();
  }
});

guarded.test("the usage file on a full disk: its periodic write fails with one warn line naming the file, usage.json and its .bak stay whole, and the counts land once there is room", async () => {
  const fake = await startFakeOllama({ models: ["m:1b"], tokens: 2 });
  const home = tempHome("c2l-wf-usage-");
  homes.push(home);
  const state = join(home, ".local/state/cloudtolocalllm");
  const seed = join(home, "seed");
  mkdirSync(state, { recursive: true });
  mkdirSync(seed);
  // usage.json bigger than its .bak by more than a block: a copy over the .bak (truncated first) cannot fit.
  const day = new Date().toISOString().slice(0, 10);
  const row = (i: number) => ({ day, key: `seeded-${i}`, model: "m:1b", caller: "local", requests: 1, errors: 0, prompt_tokens: 7, completion_tokens: 2, queue_ms: 0 });
  const current = JSON.stringify({ version: 1, rows: Array.from({ length: 200 }, (_, i) => row(i)) }) + "\n";
  const previous = JSON.stringify({ version: 1, rows: [row(0)] }) + "\n";
  writeFileSync(join(seed, "usage.json"), current, { mode: 0o600 });
  writeFileSync(join(seed, "usage.json.bak"), previous, { mode: 0o600 });
  const d = await startDaemon({
    home,
    // Debug: the tries after the first failure are debug lines, which show that they happened.
    config: `${TEST_DAEMON_TOML}[logging]\nlevel = "debug"\n[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n`,
    binary: namespaceWrapper(join(home, "serve.sh"), fullDisk(state, seed)),
    waitFor: ["api", "broker"],
  });
  // The daemon's own view of its state directory (a tmpfs in its mount namespace), through /proc.
  const inside = (f: string) => `/proc/${d.proc.pid}/root${join(state, f)}`;
  const chat = async () => {
    const r = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: false }) });
    expect(r.status).toBe(200);
    await r.arrayBuffer();
  };
  try {
    await chat();
    await until(() => d.count(/could not write the usage file/) >= 1, 10_000, "the periodic write to fail");
    expect(d.count(/warn gateway: could not write the usage file; counting goes on in memory .*no space left on the disk \(ENOSPC\)/)).toBe(1);
    // Before: the .bak was truncated and cut short by the full disk (the last good version gone, not JSON).
    expect(readFileSync(inside("usage.json.bak"), "utf8")).toBe(previous);
    expect(readFileSync(inside("usage.json"), "utf8")).toBe(current);
    expect(readdirSync(`/proc/${d.proc.pid}/root${state}`).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    // Traffic goes on, the disk stays full: the next write fails too, said at debug level, not another warn line.
    // Before: a warn line for every try (every 5 s under traffic, for as long as the disk stays full).
    await chat();
    await until(() => d.count(/debug gateway: could not write the usage file again .*ENOSPC/) >= 1, 15_000, "the next periodic write to fail");
    expect(d.count(/could not write the usage file; counting goes on in memory/)).toBe(1);
    // Room again: the next write carries what was counted in memory, and says so once.
    rmSync(inside(".fill"));
    await chat();
    await until(() => readFileSync(inside("usage.json"), "utf8").includes('"key":"-"'), 15_000, "the counts to be written");
    await d.waitFor(/info gateway: the usage file is written again/, 5_000);
    const rows = (JSON.parse(readFileSync(inside("usage.json"), "utf8")) as { rows: { key: string; requests: number }[] }).rows;
    expect(rows.find((r) => r.key === "-")?.requests).toBe(3);
    expect(rows.length).toBe(201);
    expect(readFileSync(inside("usage.json.bak"), "utf8")).toBe(current);
  } finally {
    await d.stop();
    await fake.stop();
  }
});

const NOBODY = 65534;
requireTools(["setpriv", ROOT]).test("directories whose permissions were taken away (EACCES): 503 write_failed naming the file and the cause, the files as they were, still serving; the writes succeed once the permissions are back", async () => {
  const home = tempHome("c2l-wf-eacces-");
  homes.push(home);
  const cfgDir = join(home, ".config/cloudtolocalllm");
  const state = join(home, ".local/state/cloudtolocalllm");
  mkdirSync(cfgDir, { recursive: true, mode: 0o700 });
  mkdirSync(state, { recursive: true, mode: 0o700 });
  const file = join(cfgDir, "tunnel.toml");
  writeFileSync(file, TEST_DAEMON_TOML, { mode: 0o600 });
  writeFileSync(join(cfgDir, "api-token"), TOKEN + "\n", { mode: 0o600 });
  const keys = keysText(["first"]);
  writeFileSync(join(state, "keys.json"), keys, { mode: 0o600 });
  // The daemon runs as another user than root (root writes whatever the permissions say): nobody, owning its home.
  Bun.spawnSync(["chown", "-R", `${NOBODY}:${NOBODY}`, home]);
  chmodSync(home, 0o755);
  const wrapper = join(home, "serve-as-nobody.sh");
  writeFileSync(wrapper, `#!/bin/sh\nexec setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups "${BUN}" "${join(REPO, "src/main.ts")}" "$@"\n`);
  chmodSync(wrapper, 0o755);
  const d = await startDaemon({ home, binary: wrapper, env: { BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" } });
  try {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const put = (body: string) => fetch(`${d.urls.api}/api/v1/config`, { method: "PUT", headers: { ...auth, "content-type": "application/toml" }, body });
    const createKey = () => fetch(`${d.urls.api}/api/v1/keys`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ name: "second" }) });
    // Someone takes the write permission away from the config directory under the running daemon, then from the state's.
    chmodSync(cfgDir, 0o500);
    const r = await put(TEST_DAEMON_TOML + '[logging]\nlevel = "debug"\n');
    const body = (await r.json()) as { error: { code: string; message: string; details: unknown } };
    expect({ status: r.status, ...body.error }).toEqual({
      status: 503,
      code: "write_failed",
      message: `cannot write ${file}: permission denied (EACCES); the file was left as it was`,
      details: { file },
    });
    chmodSync(state, 0o500);
    const k = await createKey();
    const kb = (await k.json()) as { error: { code: string; message: string } };
    expect({ status: k.status, code: kb.error.code }).toEqual({ status: 503, code: "write_failed" });
    expect(kb.error.message).toMatch(new RegExp(`^cannot write ${state}/keys\\.json(\\.bak)?: permission denied \\(EACCES\\); the file was left as it was$`));
    expect(readFileSync(file, "utf8")).toBe(TEST_DAEMON_TOML);
    expect(readFileSync(join(state, "keys.json"), "utf8")).toBe(keys);
    expect(d.count(/warn api: a file could not be written; the request was refused .*permission denied \(EACCES\)/)).toBe(2);
    // Permissions back: the same writes succeed.
    chmodSync(cfgDir, 0o700);
    chmodSync(state, 0o700);
    expect((await put(TEST_DAEMON_TOML + '[logging]\nlevel = "debug"\n')).status).toBe(200);
    expect((await createKey()).status).toBe(201);
    expect(readFileSync(file, "utf8")).toContain('level = "debug"');
  } finally {
    await d.stop();
  }
});
