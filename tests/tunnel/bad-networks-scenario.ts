// Runs in a private network namespace (bad-networks.test.ts): the relay here, the agent (daemon and fake upstream) in a
// namespace of its own behind a veth pair; streams in flight meet the case named by argv[2], and the outcome is printed
// as JSON: what the clients received in each dialect, what the upstream saw, the relay's and the daemon's log lines.
//   address: the agent's link goes down, comes back with another address (a laptop on another network)
//   route:   the agent's address (and the route with it) is taken away while its link stays up, then given back: the
//            same address, the same link (a DHCP lease lost and renewed, a VPN that took the route for a while)
//   vanish:  the relay's end of the link goes down for good, no FIN nor RST (a relay host gone, a NAT that forgot us)
import { sh, startVethAgent } from "./veth-agent.ts";
import { DIALECTS, metric, streamingCall } from "./resume-helpers.ts";

const CASE = process.argv[2] as "address" | "route" | "vanish";
const TOKENS = 60;
const link = await startVethAgent({
  net: "10.204.0",
  resumeWindow: CASE === "vanish" ? "3s" : "20s",
  script: `${import.meta.dir}/bad-networks-agent.ts`,
  args: [String(TOKENS), "10.204.0.2/24"],
});
const { relay, base, inAgent } = link;
try {
  const calls = DIALECTS.map((d) => streamingCall(base, d));
  await Promise.all(calls.map((c) => c.started));
  const cutAt = Date.now();
  if (CASE === "address") {
    // The laptop leaves one network and joins another: its old address is gone, its old connection with it.
    inAgent("ip link set v1 down && ip addr flush dev v1");
    await Bun.sleep(3_000);
    inAgent("ip addr add 10.204.0.3/24 dev v1 && ip link set v1 up");
  } else if (CASE === "route") {
    // Nothing tells the connection: its packets find no route (or no source) and are retried, the link stays up.
    inAgent("ip addr del 10.204.0.2/24 dev v1");
    await Bun.sleep(3_000);
    inAgent("ip addr add 10.204.0.2/24 dev v1");
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
  const upstream = await link.report();
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
  await link.stop();
}
process.exit(0);
