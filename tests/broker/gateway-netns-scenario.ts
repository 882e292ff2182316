// Runs inside a private network namespace whose loopback also carries 10.9.0.1 (another machine's address, as the
// broker sees it): starts a fake Ollama and the daemon on 0.0.0.0, and reports what each kind of caller got, as JSON.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeOllama } from "../helpers/fake-ollama.ts";
import { BUN, REPO, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

const LAN = "http://10.9.0.1:11435";
const LOCAL = "http://127.0.0.1:11435";
const out: Record<string, unknown> = {};
const fake = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 1 });
const home = tempHome();
const toml = (requireKey: string) =>
  `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "0.0.0.0:11435"\nrequire_key = "${requireKey}"\n[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n`;
const keyCmd = (env: Record<string, string>, ...args: string[]) =>
  Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", ...args], { env, stdout: "pipe", stderr: "pipe" }).stdout.toString().trim();
const get = async (base: string, headers: Record<string, string> = {}) => {
  const r = await fetch(`${base}/api/tags`, { headers });
  return { status: r.status, body: await r.text() };
};

// 1. Beyond loopback without any key: the daemon refuses to start, saying why.
let d: DaemonProc | null = null;
try {
  d = await startDaemon({ home, config: toml("auto"), waitFor: [], timeoutMs: 15_000 });
  const code = await Promise.race([d.proc.exited, Bun.sleep(10_000).then(() => null)]);
  out.startWithoutKey = { code, stderr: d.stderr() };
} finally {
  if (d && d.proc.exitCode === null) await d.stop();
}

// 2. With a key: this machine needs none, another machine does, and with it gets in.
const env = d!.env;
const k = keyCmd(env, "create", "lan-box");
d = await startDaemon({ home, config: toml("auto"), waitFor: ["api", "broker"] });
out.local = await get(LOCAL);
out.lanNoKey = await get(LAN);
out.lanKey = await get(LAN, { authorization: `Bearer ${k}` });
out.lanPlaceholder = await get(LAN, { authorization: "Bearer ollama" });

// 3. require_key = "always" by a reload: now this machine needs one too.
writeFileSync(d.configFile, toml("always"));
await until(async () => (await get(LOCAL)).status === 401, 10_000, "the reload to apply require_key = always");
out.localAlways = await get(LOCAL);
out.localAlwaysKey = await get(LOCAL, { "x-api-key": k });

// 4. The last key revoked: a reload back to auto would open the port without keys, so it is rejected and "always" stays.
keyCmd(env, "revoke", "lan-box");
writeFileSync(d.configFile, toml("auto"));
await until(() => /require_key/.test(d!.stderr()), 10_000, "the reload to be rejected").catch((e) => {
  console.error(d!.stderr());
  throw e;
});
out.afterRejectedReload = await get(LOCAL);
out.rejectedLog = d.stderr().split("\n").filter((l) => /require_key/.test(l)).slice(-1)[0] ?? "";
await d.stop();
await fake.stop();
console.log(JSON.stringify(out));
process.exit(0);
