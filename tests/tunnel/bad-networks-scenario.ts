// Runs in a private network namespace (bad-networks.test.ts): the relay here, the agent (daemon and fake upstream) in a
// namespace of its own behind a veth pair; streams in flight meet the case named by argv[2], and the outcome is printed
// as JSON: what the clients received in each dialect, what the upstream saw, the relay's and the daemon's log lines.
//   address: the agent's link goes down, comes back with another address (a laptop on another network)
//   vanish:  the relay's end of the link goes down for good, no FIN nor RST (a relay host gone, a NAT that forgot us)
import { BUN } from "../helpers/daemon.ts";
import { relayToml, startRelayProc, cleanup } from "./helpers.ts";
import { DIALECTS, metric, streamingCall } from "./resume-helpers.ts";

const CASE = process.argv[2] as "address" | "vanish";
const TOKENS = 60;
const sh = (cmd: string) => {
  const r = Bun.spawnSync(["sh", "-c", cmd], { stderr: "pipe" });
  if (!r.success) throw new Error(`${cmd}: ${r.stderr.toString()}`);
};
sh("ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add 10.204.0.1/24 dev v0 && ip link set v0 up");
const relay = await startRelayProc(relayToml({ listen: "0.0.0.0:0", extra: `resume_window = "${CASE === "vanish" ? "3s" : "20s"}"` }));
const agent = Bun.spawn(["unshare", "-n", BUN, `${import.meta.dir}/bad-networks-agent.ts`, `ws://10.204.0.1:${relay.port}/agent`, String(TOKENS), "10.204.0.2/24"], {
  env: process.env,
  stdin: "pipe",
  stdout: "pipe",
  stderr: "inherit",
});
sh(`ip link set v1 netns ${agent.pid}`);
const inAgent = (cmd: string) => sh(`nsenter -t ${agent.pid} -n sh -c '${cmd}'`);
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
  const cutAt = Date.now();
  if (CASE === "address") {
    // The laptop leaves one network and joins another: its old address is gone, its old connection with it.
    inAgent("ip link set v1 down && ip addr flush dev v1");
    await Bun.sleep(3_000);
    inAgent("ip addr add 10.204.0.3/24 dev v1 && ip link set v1 up");
  } else {
    // Packets to and from the relay's side are dropped from now on: nothing tells either end.
    sh("ip link set v0 down");
  }
  const texts = await Promise.all(calls.map((c) => c.done));
  const endedAt = Date.now();
  if (CASE === "vanish") {
    // The agent's own verdict takes its tolerance: give it a moment to log it before asking.
    await Bun.sleep(500);
  }
  agent.stdin.write("report\n");
  await agent.stdin.flush();
  const upstream = JSON.parse((await next()) ?? "null");
  console.log(
    JSON.stringify({
      tokens: TOKENS,
      cutAt,
      endedAt,
      texts,
      upstream,
      relayLines: relay.stderr().split("\n").filter((l) => /agent (dis)?connected/.test(l)),
      relayResumed: await metric(base, "cloudtolocalllm_relay_resumed_streams_total"),
    }),
  );
} finally {
  agent.kill();
  await relay.stop("SIGKILL");
  cleanup(relay.dir);
}
process.exit(0);
