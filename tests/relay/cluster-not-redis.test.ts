// A cluster node whose redis_url names something that is not Redis (an HTTP server), or a Redis that never answers: its log line and /readyz say which, not "cannot reach Redis: Connection closed".
import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "bun";
import { cleanup } from "../tunnel/helpers.ts";
import { clusterNodeToml, startClusterNode, writeClusterSecret } from "./cluster-helpers.ts";
import { BUN, REPO } from "../helpers/daemon.ts";
import { NETNS_NEEDS } from "../helpers/netns.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";

const CASES: [string, (s: Socket) => void, (port: number) => string][] = [
  ["an HTTP server", (s) => (s.write("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"), s.end()), (port) => `what answers at 127.0.0.1:${port} is not Redis (it sent \\"HTTP/1.1 400 Bad Request\\")`],
  ["a server that takes the connection and answers nothing", () => {}, (port) => `Redis at 127.0.0.1:${port} took the connection but answered nothing within 500 ms`],
];

for (const [what, reply, reason] of CASES)
  test(`redis_url naming ${what}: the node's log line and /readyz say so`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "c2l-not-redis-"));
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: reply, open() {} } });
    // startClusterNode waits for the node's start, which logs the failed connection first (redis_timeout 500ms).
    const node = await startClusterNode({ redisUrl: `redis://127.0.0.1:${server.port}/0`, id: "n1", secretFile: writeClusterSecret(dir), dir });
    try {
      const line = await node.waitFor(/warn relay: cannot connect to the cluster's Redis/, 5_000);
      // Before: reason="cannot reach Redis: Connection closed" (or Bun's "Failed to read data (stack path)") for both.
      expect(line).toContain(`reason="${reason(server.port)}`);
      const ready = (await (await fetch(`${node.url}/readyz`)).json()) as { error: { details: { cluster: { reason: string } } } };
      expect(ready.error.details.cluster.reason).toContain(reason(server.port).replace(/\\"/g, '"'));
    } finally {
      await node.stop();
      server.stop(true);
      cleanup(dir);
    }
  }, 30_000);

// In a network namespace with only a loopback, 10.x has no route: the kernel says ENETUNREACH at once.
requireTools(NETNS_NEEDS).test("redis_url naming an address this machine has no route to: the node's log line says no route, not a refused port", async () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-no-route-"));
  const cfg = join(dir, "relay.toml");
  writeFileSync(cfg, clusterNodeToml({ redisUrl: "redis://:hunter2pass@10.204.9.9:6379/0", id: "n1", listen: "127.0.0.1:0", internal: "127.0.0.1:0", secretFile: writeClusterSecret(dir) }));
  const proc = Bun.spawn(["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', BUN, join(REPO, "src/main.ts"), "relay", "--config", cfg], { stdout: "ignore", stderr: "pipe" });
  try {
    let stderr = "";
    void (async () => {
      const dec = new TextDecoder();
      for await (const chunk of proc.stderr) stderr += dec.decode(chunk, { stream: true });
    })();
    const line = await until(() => /warn relay: cannot connect to the cluster's Redis.*/.exec(stderr)?.[0], 15_000, "the failed connection's line");
    // Before: "10.204.9.9:6379: the connection was refused (nothing listens on that port) (ECONNREFUSED)" (Bun's node:net).
    expect(line).toContain("cannot reach Redis at 10.204.9.9:6379: network unreachable (this machine has no route to that address) (ENETUNREACH)");
    expect(stderr).not.toContain("hunter2");
  } finally {
    proc.kill("SIGKILL");
    await proc.exited;
    cleanup(dir);
  }
}, 30_000);
