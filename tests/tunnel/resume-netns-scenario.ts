// Runs in a private network namespace (resume-netns.test.ts): the relay here, the agent (daemon and fake upstream) in a
// namespace of its own behind a veth pair; mid-stream the link is cut for longer than the heartbeat tolerance and
// restored. Prints JSON: what the client received in each dialect and what the upstream saw.
import { BUN } from "../helpers/daemon.ts";
import { relayToml, startRelayProc, cleanup } from "./helpers.ts";
import { DIALECTS, metric, streamingCall } from "./resume-helpers.ts";

const TOKENS = 60;
const sh = (cmd: string) => {
  const r = Bun.spawnSync(["sh", "-c", cmd], { stderr: "pipe" });
  if (!r.success) throw new Error(`${cmd}: ${r.stderr.toString()}`);
};
sh("ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add 10.203.0.1/24 dev v0 && ip link set v0 up");
const relay = await startRelayProc(relayToml({ listen: "0.0.0.0:0", extra: 'resume_window = "20s"' }));
const agent = Bun.spawn(["unshare", "-n", BUN, `${import.meta.dir}/resume-netns-agent.ts`, `ws://10.203.0.1:${relay.port}/agent`, String(TOKENS)], {
  env: process.env,
  stdin: "pipe",
  stdout: "pipe",
  stderr: "inherit",
});
sh(`ip link set v1 netns ${agent.pid}`);
const lines = (async function* () {
  let buf = "";
  for await (const chunk of agent.stdout) {
    buf += new TextDecoder().decode(chunk);
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
})();
const next = async () => (await lines.next()).value as string | undefined;
try {
  if ((await next()) !== "ready") throw new Error("the agent namespace did not come up");
  const base = `http://127.0.0.1:${relay.port}`;
  const calls = DIALECTS.map((d) => streamingCall(base, d));
  await Promise.all(calls.map((c) => c.started));
  // Cut: both ends see silence; the agent's and the relay's tolerance is 1.2 s.
  sh("ip link set v0 down");
  await Bun.sleep(3_000);
  const cutSeen = relay.count(/agent disconnected/);
  sh("ip link set v0 up");
  const texts = await Promise.all(calls.map((c) => c.done));
  agent.stdin.write("report\n");
  await agent.stdin.flush();
  const upstream = JSON.parse((await next()) ?? "null");
  console.log(
    JSON.stringify({
      tokens: TOKENS,
      texts,
      upstream,
      cutSeen,
      relayResumed: await metric(base, "cloudtolocalllm_relay_resumed_streams_total"),
    }),
  );
} finally {
  agent.kill();
  await relay.stop("SIGKILL");
  cleanup(relay.dir);
}
process.exit(0);
