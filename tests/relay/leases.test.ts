// Tunnel ownership leases (issue 15, in progress) against Debian's redis-server: a claim takes over and raises the
// epoch, the earlier holder is fenced (its renewals and release fail), leases expire without renewal.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { TunnelLeases } from "../../src/relay/cluster/leases.ts";

const { afterAll, beforeAll, test } = requireTools(["redis-server"]);

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
}, 20_000);
afterAll(async () => {
  await redis?.stop();
});

test("a takeover raises the epoch and fences the node that held the tunnel", async () => {
  const a = new TunnelLeases(redis.client(), "node-a", 5000);
  const b = new TunnelLeases(redis.client(), "node-b", 5000);
  const e1 = await a.claim("alice");
  expect(await a.owner("alice")).toEqual({ node: "node-a", epoch: e1 });
  expect(await a.renew("alice", e1)).toBe(true);
  // The agent reconnected through another node: that node takes the tunnel.
  const e2 = await b.claim("alice");
  expect(e2).toBeGreaterThan(e1);
  expect(await b.owner("alice")).toEqual({ node: "node-b", epoch: e2 });
  // node-a is fenced: it cannot renew or release what it no longer holds.
  expect(await a.renew("alice", e1)).toBe(false);
  expect(await a.release("alice", e1)).toBe(false);
  expect((await a.owner("alice"))?.node).toBe("node-b");
  // A clean disconnect at node-b gives it up; epochs keep growing for the next claim.
  expect(await b.release("alice", e2)).toBe(true);
  expect(await b.owner("alice")).toBeNull();
  expect(await a.claim("alice")).toBeGreaterThan(e2);
});

test("a lease not renewed expires; one renewed in time does not", async () => {
  const a = new TunnelLeases(redis.client(), "node-a", 1000);
  const kept = await a.claim("kept");
  await a.claim("dropped");
  for (let i = 0; i < 5; i++) {
    await Bun.sleep(300);
    expect(await a.renew("kept", kept)).toBe(true);
  }
  expect(await a.owner("dropped")).toBeNull();
  expect((await a.owner("kept"))?.node).toBe("node-a");
});
