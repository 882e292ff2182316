// A cluster node whose redis_url names something that is not Redis (an HTTP server), or a Redis that never answers: its log line and /readyz say which, not "cannot reach Redis: Connection closed".
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "bun";
import { cleanup } from "../tunnel/helpers.ts";
import { startClusterNode, writeClusterSecret } from "./cluster-helpers.ts";

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
