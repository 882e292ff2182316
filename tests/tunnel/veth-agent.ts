// For the scenarios run in a private network namespace: the relay here, the agent (daemon and fake upstream) in a namespace of its own behind a veth pair, and a line protocol to it ("ready", then one JSON report on "report").
import { readlinkSync } from "node:fs";
import { BUN } from "../helpers/daemon.ts";
import { cleanup, relayToml, startRelayProc, type RelayProc } from "./helpers.ts";

/** Runs a shell command, throwing with its stderr when it fails. */
export const sh = (cmd: string): void => {
  const r = Bun.spawnSync(["sh", "-c", cmd], { stderr: "pipe" });
  if (!r.success) throw new Error(`${cmd}: ${r.stderr.toString()}`);
};

export interface VethAgent {
  relay: RelayProc;
  /** The relay's URL as clients here reach it. */
  base: string;
  /** Runs a shell command in the agent's network namespace. */
  inAgent(cmd: string): void;
  /** What the agent script prints after "report" (JSON). */
  report(): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * The relay listens here on `${net}.1` (v0), the agent script runs in a new network namespace given v1 and the relay's
 * agent URL followed by `args`; resolves once the script says "ready".
 */
export async function startVethAgent(o: { net: string; resumeWindow: string; script: string; args: string[] }): Promise<VethAgent> {
  sh(`ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add ${o.net}.1/24 dev v0 && ip link set v0 up`);
  const relay = await startRelayProc(relayToml({ listen: "0.0.0.0:0", extra: `resume_window = "${o.resumeWindow}"` }));
  const agent = Bun.spawn(["unshare", "-n", BUN, o.script, `ws://${o.net}.1:${relay.port}/agent`, ...o.args], { env: process.env, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  // Moved only once the child is in its new namespace: before unshare(2) ran, "netns PID" is this namespace (a no-op),
  // and the agent would wait for a v1 that never comes (seen with test files running in parallel).
  const ownNs = readlinkSync("/proc/self/ns/net");
  for (let i = 0; i < 400 && agent.exitCode === null; i++) {
    let ns: string | null = null;
    try {
      ns = readlinkSync(`/proc/${agent.pid}/ns/net`);
    } catch {}
    if (ns !== null && ns !== ownNs) break;
    await Bun.sleep(25);
  }
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
  const stop = async () => {
    agent.kill();
    await relay.stop("SIGKILL");
    cleanup(relay.dir);
  };
  if ((await next()) !== "ready") {
    await stop();
    throw new Error("the agent namespace did not come up");
  }
  return {
    relay,
    base: `http://127.0.0.1:${relay.port}`,
    inAgent: (cmd) => sh(`nsenter -t ${agent.pid} -n sh -c '${cmd}'`),
    async report() {
      agent.stdin.write("report\n");
      await agent.stdin.flush();
      return JSON.parse((await next()) ?? "null");
    },
    stop,
  };
}
