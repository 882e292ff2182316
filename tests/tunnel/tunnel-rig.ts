// The set-up many tunnel tests share: a fake Ollama, a relay process and an agent daemon connected to it; and its teardown.
import type { DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama, type FakeOllamaOptions } from "../helpers/fake-ollama.ts";
import { cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

export interface TunnelRig {
  fake: FakeOllama;
  relay: RelayProc;
  daemon: DaemonProc;
  stop(): Promise<void>;
}

export interface TunnelRigOptions {
  fake?: FakeOllamaOptions;
  /** The relay's whole config (default: the tests' relayToml()). */
  relayToml?: string;
  /** More [tunnel] lines for the daemon. */
  tunnel?: string;
  /** The daemon's [tunnel.heartbeat] interval and tolerance (default: the tests' quick ones). */
  heartbeat?: [string, string];
}

export async function startTunnelRig(o: TunnelRigOptions = {}): Promise<TunnelRig> {
  const fake = await startFakeOllama(o.fake);
  const relay = await startRelayProc(o.relayToml ?? relayToml());
  const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: o.tunnel, heartbeat: o.heartbeat }));
  return {
    fake,
    relay,
    daemon,
    async stop() {
      await daemon.stop();
      // Killed: a test may leave it paused (SIGSTOP), where a graceful stop would wait for ever.
      await relay.stop("SIGKILL");
      await fake.stop();
      cleanup(relay.dir, daemon.home);
    },
  };
}
