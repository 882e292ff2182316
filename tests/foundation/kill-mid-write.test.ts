// Integration: a real daemon SIGKILLed at random moments while PUT /api/v1/config and key creation write: the config, its backups and the keys file are always one whole version, and no temp file piles up; usage counts across a SIGKILL and a SIGTERM.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TEST_DAEMON_TOML, apiToken, keyUsage, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";

setDefaultTimeout(90_000);

const ROUNDS = 6;
// About 64 KiB: a write takes a while, and a PUT (parsed, validated, backed up, written, applied) some tens of ms.
const filler = ("# " + "x".repeat(98) + "\n").repeat(650);
const version = (n: number) => `${TEST_DAEMON_TOML}[logging]\nlevel = "${n % 2 ? "debug" : "info"}"\n# version ${n}\n${filler}`;

let d: DaemonProc | null = null;
afterAll(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
});

const named = (dir: string, ending = ".tmp") => {
  try {
    return readdirSync(dir).filter((f) => f.endsWith(ending));
  } catch {
    return [];
  }
};

test("SIGKILL in the middle of repeated config and key writes: every file is a whole version, and the next start leaves no temp file", async () => {
  d = await startDaemon({ config: TEST_DAEMON_TOML });
  const home = d.home;
  const cfgDir = join(home, ".config/cloudtolocalllm");
  const state = join(home, ".local/state/cloudtolocalllm");
  const backups = join(state, "backups");
  const sent = new Set([TEST_DAEMON_TOML]);
  let n = 0;
  let leftBehind = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const token = await apiToken(d);
    const api = d.urls.api!;
    const auth = { authorization: `Bearer ${token}` };
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        const text = version(++n);
        sent.add(text);
        await fetch(`${api}/api/v1/config`, { method: "PUT", headers: { ...auth, "content-type": "application/toml" }, body: text }).then((r) => r.arrayBuffer()).catch(() => {});
        await fetch(`${api}/api/v1/keys`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ name: `k${n}` }) })
          .then((r) => r.arrayBuffer())
          .catch(() => {});
      }
    })();
    await Bun.sleep(30 + Math.random() * 600);
    d.proc.kill("SIGKILL");
    await d.proc.exited;
    stop = true;
    await writer;

    const config = readFileSync(join(cfgDir, "tunnel.toml"), "utf8");
    expect(sent.has(config)).toBe(true);
    for (const b of named(backups, ".toml")) expect(sent.has(readFileSync(join(backups, b), "utf8"))).toBe(true);
    for (const f of named(state, ".json").concat(named(state, ".bak"))) {
      const keys = JSON.parse(readFileSync(join(state, f), "utf8")) as { version: number; keys: unknown[] };
      expect(keys.version).toBe(1);
    }
    leftBehind += named(cfgDir).length + named(state).length + named(backups).length;
    d = await startDaemon({ home });
  }
  // The restarted daemon's first writes sweep what the kills left.
  const token = await apiToken(d);
  const auth = { authorization: `Bearer ${token}` };
  const r = await fetch(`${d.urls.api}/api/v1/config`, { method: "PUT", headers: { ...auth, "content-type": "application/toml" }, body: version(++n) });
  expect(r.status).toBe(200);
  const k = await fetch(`${d.urls.api}/api/v1/keys`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ name: "last" }) });
  expect(k.status).toBe(201);
  expect([...named(cfgDir), ...named(state), ...named(backups)]).toEqual([]);
  if (process.env.DEBUG_KILLS) console.log(`${n} versions sent, ${leftBehind} temp files left by the kills`);
});

test("usage across restarts: what was written before a SIGKILL is counted once, a SIGTERM writes the rest", async () => {
  const fake = await startFakeOllama({ models: ["m:1b"], tokens: 2 });
  const config = `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n`;
  let u = await startDaemon({ config, waitFor: ["api", "broker"] });
  try {
    const usageFile = join(u.home, ".local/state/cloudtolocalllm/usage.json");
    const onDisk = () => {
      try {
        return (JSON.parse(readFileSync(usageFile, "utf8")) as { rows: { requests: number }[] }).rows.reduce((n, r) => n + r.requests, 0);
      } catch {
        return 0;
      }
    };
    const chat = async (d: DaemonProc) => {
      const r = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: false }) });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    };
    for (let i = 0; i < 3; i++) await chat(u);
    await until(() => onDisk() === 3, 10_000, "the periodic write of the usage file");
    u.proc.kill("SIGKILL");
    await u.proc.exited;
    u = await startDaemon({ home: u.home, waitFor: ["api", "broker"] });
    const token = await apiToken(u);
    // Not lost, not counted twice.
    expect((await keyUsage(u, token, "-")).requests).toBe(3);
    await chat(u);
    await u.stop("SIGTERM");
    expect(onDisk()).toBe(4);
    u = await startDaemon({ home: u.home, waitFor: ["api", "broker"] });
    expect((await keyUsage(u, await apiToken(u), "-")).requests).toBe(4);
  } finally {
    await u.stop();
    await fake.stop();
    removeHome(u.home);
  }
});
