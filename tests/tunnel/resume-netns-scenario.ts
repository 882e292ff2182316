// Runs in a private network namespace (resume-netns.test.ts): the relay here, the agent (daemon and fake upstream) in a
// namespace of its own behind a veth pair; mid-stream the link is cut for longer than the heartbeat tolerance and
// restored. Prints JSON: what the client received in each dialect and what the upstream saw.
import { sh, startVethAgent } from "./veth-agent.ts";
import { DIALECTS, metric, streamingCall } from "./resume-helpers.ts";

const TOKENS = 60;
const link = await startVethAgent({ net: "10.203.0", resumeWindow: "20s", script: `${import.meta.dir}/resume-netns-agent.ts`, args: [String(TOKENS)] });
const { relay, base } = link;
try {
  const calls = DIALECTS.map((d) => streamingCall(base, d));
  await Promise.all(calls.map((c) => c.started));
  // Cut: both ends see silence; the agent's and the relay's tolerance is 1.2 s.
  sh("ip link set v0 down");
  await Bun.sleep(3_000);
  const cutSeen = relay.count(/agent disconnected/);
  sh("ip link set v0 up");
  const texts = await Promise.all(calls.map((c) => c.done));
  const upstream = await link.report();
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
  await link.stop();
}
process.exit(0);
