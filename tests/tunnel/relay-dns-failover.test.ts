// A relay moved by DNS (its name now points at another node, the old one gone): the agent, run with the runtime settings
// the units give it (src/core/runtime-tuning.ts), finds the new node within seconds, not after Bun's 30 s DNS cache.
// The daemon runs in its own mount namespace (`unshare -rm`) with its own /etc/hosts, which the test rewrites.
import { expect } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, REPO, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { requireTools } from "../helpers/requires.ts";
import { AGENT_TOKEN, cleanup, daemonToml, relayToml, startRelayProc, type RelayProc } from "./helpers.ts";

/** Whether an unprivileged test may make a mount namespace and bind a file over /etc/hosts there. */
const mountnsAvailable = (() => {
  try {
    return Bun.spawnSync(["unshare", "-rm", "sh", "-c", "mount --bind /etc/hosts /etc/hosts"], { stdout: "ignore", stderr: "ignore" }).success;
  } catch {
    return false;
  }
})();

const { afterAll, beforeAll, test } = requireTools([
  "unshare",
  {
    name: "unprivileged mount namespaces (unshare -rm)",
    available: () => mountnsAvailable,
    fix: "allow unprivileged user namespaces: sysctl -w kernel.unprivileged_userns_clone=1 (Ubuntu 23.10+: kernel.apparmor_restrict_unprivileged_userns=0)",
  },
]);

let dir: string;
let hosts: string;
let fake: FakeOllama;
let a: RelayProc;
let b: RelayProc;
let d: DaemonProc;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "c2l-dns-failover-"));
  hosts = join(dir, "hosts");
  fake = await startFakeOllama();
  // Two relay nodes on the same port, at two loopback addresses: relay.test names the first.
  a = await startRelayProc(relayToml({ listen: "127.0.0.5:0" }));
  b = await startRelayProc(relayToml({ listen: `127.0.0.6:${a.port}` }));
  writeFileSync(hosts, "127.0.0.1 localhost\n127.0.0.5 relay.test\n");
  // The daemon as the unit starts it, in a mount namespace whose /etc/hosts is the file above (rewritten in place below).
  const wrapper = join(dir, "daemon-in-mountns");
  writeFileSync(wrapper, `#!/bin/sh\nexec unshare -rm sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "${hosts}" "${BUN}" "${join(REPO, "src/main.ts")}" "$@"\n`, { mode: 0o755 });
  const toml = daemonToml({ upstream: fake.url, relayUrl: `ws://relay.test:${a.port}/agent`, tunnel: "allow_plaintext_relay = true", backoff: ["200ms", "1s"] });
  d = await startDaemon({ config: toml, binary: wrapper, env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN } });
  await d.waitFor(/tunnel: connected to the relay/, 15_000);
}, 40_000);

afterAll(async () => {
  await d?.stop();
  await a?.stop("SIGKILL");
  await b?.stop();
  await fake?.stop();
  cleanup(a?.dir, b?.dir);
  if (d) removeHome(d.home);
  if (dir) removeHome(dir);
});

test("the relay's name moves to another node and the old one dies: the agent connects to the new node within seconds", async () => {
  expect(a.count(/agent connected/)).toBe(1);
  // The failover: the name points at the second node (the file rewritten in place: the bind mount sees it), the first dies.
  writeFileSync(hosts, "127.0.0.1 localhost\n127.0.0.6 relay.test\n");
  await a.stop("SIGKILL");
  const t0 = performance.now();
  // Before: Bun kept the dead node's address for 30 s (a failed connect does not drop it), and the agent dialled it until then.
  await b.waitFor(/agent connected/, 15_000);
  expect(performance.now() - t0).toBeLessThan(15_000);
}, 40_000);
