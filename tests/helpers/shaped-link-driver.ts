// Inside a private user + network namespace: a relay here, an agent and fake upstreams in a second namespace behind a veth rate-limited both ways (tbf); measures a chat's time to first token alone, beside a 20 MB upload and beside a long fast answer on the same tunnel, and prints JSON.
//
//   unshare -rn sh -c 'ip link set lo up && exec "$0" "$@"' bun tests/helpers/shaped-link-driver.ts RATE TOKEN_DELAY_MS [SAMPLES [SETTLE_MS]]
// SETTLE_MS: how long after a bulk stream starts the chats begin (default 2000; less: right behind its first window).
// MODE "fresh": no upload alone first, so the agent has measured nothing it received when the big upload begins.
// MODE "reconnect": instead of the upload and the long answer beside chats, a long answer whose link is cut past the
// heartbeat tolerance and restored: the chats are sent SETTLE_MS after the agent reconnected, while the relay takes the
// answer over on the new session (heartbeats at the tests' 300 ms / 1.2 s).
export {}; // a module: top-level await, and its own scope
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, removeHome, startDaemon } from "./daemon.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, generatedBody, relayToml, startRelayProc } from "../tunnel/helpers.ts";

const [rate = "4mbit", delayArg = "150", samplesArg = "5", settleArg = "2000"] = process.argv.slice(2);
const SETTLE_MS = Number(settleArg);
const MODE = process.argv[6] ?? "";
const FRESH = MODE === "fresh";
const RECONNECT = MODE === "reconnect";
const SAMPLES = Number(samplesArg);
const UPLOAD = 20 * 1024 * 1024;
const GOODPUT_BYTES = 1024 * 1024;

/** The reconnect mode's early end (its results are in). */
class Done {}

function run(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
}

// The agent's side: a namespace held open by a sleeping process, joined by pid (nsenter) for everything started there.
const holder = Bun.spawn(["unshare", "-n", "sh", "-c", "ip link set lo up && echo up && exec sleep 600"], { stdout: "pipe", stderr: "inherit" });
await holder.stdout.getReader().read();
const pid = String(holder.pid);
const inB = (cmd: string[]) => ["nsenter", "-t", pid, "-n", ...cmd];
run(["ip", "link", "add", "c2l-relay", "type", "veth", "peer", "name", "c2l-agent"]);
run(["ip", "link", "set", "c2l-agent", "netns", pid]);
run(["ip", "addr", "add", "10.77.0.1/24", "dev", "c2l-relay"]);
run(["ip", "link", "set", "c2l-relay", "up"]);
run(inB(["ip", "addr", "add", "10.77.0.2/24", "dev", "c2l-agent"]));
run(inB(["ip", "link", "set", "c2l-agent", "up"]));
// Both directions are slow: relay→agent carries a request's head and an upload's body, agent→relay the answers.
run(["tc", "qdisc", "add", "dev", "c2l-relay", "root", "tbf", "rate", rate, "burst", "16kb", "latency", "30ms"]);
run(inB(["tc", "qdisc", "add", "dev", "c2l-agent", "root", "tbf", "rate", rate, "burst", "16kb", "latency", "30ms"]));

/** A fake upstream in the agent's namespace; resolves with it and its URL. */
async function fakeInB(args: string[]) {
  const proc = Bun.spawn(inB([BUN, join(REPO, "tests/helpers/fake-ollama.ts"), "--port", "0", ...args]), { stdout: "pipe", stderr: "inherit" });
  let out = "";
  const reader = proc.stdout.getReader();
  while (!/listening url=(\S+)/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`fake upstream did not start: ${out}`);
    out += new TextDecoder().decode(value);
  }
  return { proc, url: /listening url=(\S+)/.exec(out)![1]! };
}
// The chat's model thinks before its first token; the bulk model streams as fast as it can (a long answer, a download).
const fake = await fakeInB(["--tokens", "3", "--delay-ms", delayArg]);
const bulk = await fakeInB(["--tokens", "3", "--models", "bulk:latest"]);
const fakeUrl = fake.url;

// Heartbeats slower than the tests' default: an old session would otherwise die of a late PONG, not show the delay.
const shortBeats = relayToml({ listen: "10.77.0.1:0" });
const relay = await startRelayProc(RECONNECT ? shortBeats : shortBeats.replace('interval = "300ms"\ntolerance = "1200ms"', 'interval = "1s"\ntolerance = "20s"'));
const dir = relay.dir;
const wrapper = join(dir, "daemon-in-agent-ns.sh");
writeFileSync(wrapper, `#!/bin/sh\nexec nsenter -t ${pid} -n ${BUN} ${join(REPO, "src/main.ts")} "$@"\n`);
chmodSync(wrapper, 0o755);
const daemon = await startDaemon({
  binary: wrapper,
  config: daemonToml({ upstream: fakeUrl, relayUrl: `ws://10.77.0.1:${relay.port}/agent`, tunnel: "allow_model_management = true\nallow_plaintext_relay = true\n", heartbeat: RECONNECT ? undefined : ["1s", "20s"] }) + `[[upstreams]]\nname = "bulk"\nurl = "${bulk.url}"\n`,
  env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN },
});
const result: Record<string, unknown> = { rate, tokenDelayMs: Number(delayArg) };
const base = `${relay.url}/t/${TUNNEL_ID}`;
const auth = { Authorization: `Bearer ${CLIENT_KEY}` };
try {
  await daemon.waitFor(/tunnel: connected to the relay/, 15_000);
  /** One-line chat, streamed: ms until the first token line reaches the client. */
  const chat = async (): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(`${base}/api/chat`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "Say hi in one word." }], stream: true }),
    });
    if (res.status !== 200) throw new Error(`chat answered ${res.status}: ${await res.text()}`);
    const reader = res.body!.getReader();
    const first = await reader.read();
    const ms = performance.now() - t0;
    if (first.done) throw new Error("chat answered no token");
    while (!(await reader.read()).done);
    return ms;
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  await chat(); // warm: connections, JIT
  const unloaded: number[] = [];
  for (let i = 0; i < SAMPLES; i++) unloaded.push(await chat());
  if (RECONNECT) {
    const stopBulk = new AbortController();
    let downloaded = 0;
    let tail = "";
    const download = fetch(`${base}/api/generate`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ model: "bulk:latest", prompt: "everything", stream: true, options: { num_predict: 300_000 } }),
      signal: stopBulk.signal,
    })
      .then(async (r) => {
        for (const reader = r.body!.getReader(); ; ) {
          const { value, done } = await reader.read();
          if (done) return `ended after ${downloaded} bytes: ${tail}`;
          downloaded += value.length;
          tail = (tail + new TextDecoder().decode(value)).slice(-300);
        }
      })
      .catch((e: Error) => (stopBulk.signal.aborted ? "aborted" : `failed: ${e.message}`));
    await Bun.sleep(1500);
    const connected = daemon.count(/tunnel: connected to the relay/);
    run(["ip", "link", "set", "c2l-relay", "down"]);
    await Bun.sleep(2500);
    run(["ip", "link", "set", "c2l-relay", "up"]);
    for (let i = 0; i < 300 && daemon.count(/tunnel: connected to the relay/) === connected; i++) await Bun.sleep(50);
    if (daemon.count(/tunnel: connected to the relay/) === connected) throw new Error("the agent did not reconnect");
    await Bun.sleep(SETTLE_MS);
    const after: number[] = [];
    for (let i = 0; i < SAMPLES; i++) after.push(await chat());
    const downloadedBeforeAbort = downloaded;
    stopBulk.abort();
    Object.assign(result, { unloaded, unloadedMs: median(unloaded), afterReconnect: after, afterReconnectMs: median(after), downloadedMiB: +(downloadedBeforeAbort / 1048576).toFixed(1), download: await download, relayResumed: (await (await fetch(`${relay.url}/metrics`)).text()).match(/^cloudtolocalllm_relay_resumed_streams_total (\d+)/m)?.[1] });
    throw new Done();
  }
  // The upload alone first: what share of the link a bulk stream gets with the windows the session chose.
  if (!FRESH) {
    const t0 = performance.now();
    const alone = await fetch(`${base}/api/blobs/sha256:${"1".repeat(64)}`, { method: "POST", headers: auth, body: generatedBody(GOODPUT_BYTES, 64 * 1024), duplex: "half" } as RequestInit);
    await alone.arrayBuffer();
    if (alone.status !== 201) throw new Error(`the upload alone answered ${alone.status}`);
    result.uploadKBps = Math.round(GOODPUT_BYTES / 1024 / ((performance.now() - t0) / 1000));
  }
  const abort = new AbortController();
  let uploaded = 0;
  const upload = fetch(`${base}/api/blobs/sha256:${"0".repeat(64)}`, {
    method: "POST",
    headers: auth,
    body: generatedBody(UPLOAD, 64 * 1024).pipeThrough(new TransformStream({ transform: (c, ctl) => ((uploaded += c.length), ctl.enqueue(c)) })),
    duplex: "half",
    signal: abort.signal,
  } as RequestInit).then(
    (r) => `answered ${r.status}`,
    (e: Error) => (abort.signal.aborted ? "aborted" : `failed: ${e.message}`),
  );
  // Past the start of the upload (by default long enough for its first window to drain).
  await Bun.sleep(SETTLE_MS);
  const loaded: number[] = [];
  for (let i = 0; i < SAMPLES; i++) loaded.push(await chat());
  const uploadedBeforeAbort = uploaded;
  abort.abort();
  Object.assign(result, { unloaded, loaded, unloadedMs: median(unloaded), loadedMs: median(loaded), uploadedMiB: +(uploadedBeforeAbort / 1048576).toFixed(1), upload: await upload });
  // A long answer streaming as fast as the agent→relay link takes it (~20 MB of NDJSON), and the chat beside it.
  const stopBulk = new AbortController();
  let downloaded = 0;
  const download = fetch(`${base}/api/generate`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ model: "bulk:latest", prompt: "everything", stream: true, options: { num_predict: 300_000 } }),
    signal: stopBulk.signal,
  }).then(
    async (r) => {
      for (const reader = r.body!.getReader(); ; ) {
        const { value, done } = await reader.read();
        if (done) return `ended after ${downloaded} bytes`;
        downloaded += value.length;
      }
    },
    (e: Error) => (stopBulk.signal.aborted ? "aborted" : `failed: ${e.message}`),
  ).catch((e: Error) => (stopBulk.signal.aborted ? "aborted" : `failed: ${e.message}`));
  await Bun.sleep(SETTLE_MS);
  const beside: number[] = [];
  for (let i = 0; i < SAMPLES; i++) beside.push(await chat());
  const downloadedBeforeAbort = downloaded;
  stopBulk.abort();
  Object.assign(result, { besideDownload: beside, besideDownloadMs: median(beside), downloadedMiB: +(downloadedBeforeAbort / 1048576).toFixed(1), download: await download });
} catch (e) {
  if (!(e instanceof Done)) result.error = e instanceof Error ? e.message : String(e);
} finally {
  await daemon.stop();
  await relay.stop();
  fake.proc.kill();
  bulk.proc.kill();
  holder.kill();
  cleanup(dir);
  removeHome(daemon.home);
}
console.log(JSON.stringify(result));
process.exit(0);
