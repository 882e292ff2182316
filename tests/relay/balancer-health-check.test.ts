// docs/relay-cluster.md's HAProxy health check as written (/readyz, HTTP/1.1 with a Host, inter × fall): a node sent SIGTERM is out of the balancer while it still serves (within drain_delay), and the check without HTTP/1.1 and Host would hold every node down.
import { afterAll, beforeAll, expect } from "bun:test";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { parseRelayConfig, relayMs } from "../../src/relay/config.ts";
import { docBlock, startCluster, startHaproxy, type TestCluster } from "./cluster-helpers.ts";

const { test } = requireTools(["redis-server", "haproxy"]);

let redis: TestRedis;
let cluster: TestCluster;
beforeAll(async () => {
  redis = await startRedis();
  // A drain_delay far above the docs' 2 s: on a loaded machine a late check must not turn into a refused connection
  // (the docs' margin, inter × fall under drain_delay, is checked as arithmetic below, not as a race).
  cluster = await startCluster({ redisUrl: redis.url, size: 2, clusterExtra: 'drain_delay = "20s"' });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  await redis?.stop();
});

/** HAProxy's own line when a health check takes a server out (it writes it to stderr in the foreground). */
const down = (name: string) => new RegExp(`Server relay_nodes/${name} is DOWN, reason: Layer7 wrong status, code: (\\d+)`);

test("the docs' health check takes a node sent SIGTERM out on its 503 from /readyz while the node still serves", async () => {
  // The docs' margin: inter × fall (how soon the balancer notices) under the example's drain_delay.
  const check = /^\s*default-server inter (\d+)ms fall (\d+) rise \d+$/m.exec(docBlock("haproxy"));
  expect(check).not.toBeNull();
  const parsed = parseRelayConfig(docBlock("toml"));
  if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join("; "));
  expect(Number(check![1]) * Number(check![2])).toBeLessThan(relayMs(parsed.config).cluster.drain_delay);
  const lb = await startHaproxy(cluster.nodes);
  try {
    const stopping = cluster.nodes[0]!;
    stopping.proc.kill("SIGTERM");
    const line = await lb.waitFor(down("relay1"), 15_000);
    // Out for its 503, not for a refused connection: the node was still up and serving when the balancer let it go.
    expect(down("relay1").exec(line)![1]).toBe("503");
    expect(stopping.proc.exitCode).toBeNull();
    expect((await fetch(`${stopping.url}/healthz`)).status).toBe(200);
    // The node that stayed up was never taken out: the docs' check (HTTP/1.1 with a Host) passes on a ready node.
    expect(lb.stderr()).not.toMatch(/is DOWN, reason: Layer7 wrong status, code: 400|relay2 is DOWN/);
  } finally {
    await lb.stop();
    cluster.nodes[0]!.proc.kill("SIGKILL");
    await cluster.nodes[0]!.proc.exited;
    await cluster.restart(0);
  }
}, 60_000);

test("without the docs' `ver HTTP/1.1 hdr Host relay` the check gets the relay's 400 and takes every checked node out", async () => {
  // A spare server without checks keeps the balancer answering while the checked ones go down.
  const spare = `  server spare 127.0.0.1:${cluster.nodes[1]!.port}`;
  const lb = await startHaproxy(cluster.nodes, undefined, { edit: (c) => `${c.replace(/ ver HTTP\/1\.1 hdr Host relay$/m, " ver HTTP/1.0").trimEnd()}\n${spare}\n` });
  try {
    for (const name of ["relay1", "relay2"]) expect(down(name).exec(await lb.waitFor(down(name), 10_000))![1]).toBe("400");
  } finally {
    await lb.stop();
  }
}, 60_000);
