// A call refused after its key was accepted (the tunnel's streams all taken; a cluster's shared minute) reads its body no
// further than a bad key's refusal does (src/relay/bounded-drain.ts): real relay processes (a daemon; a cluster node on
// Redis), an endless upload over a raw socket.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { DRAIN_MAX_BYTES } from "../../src/relay/bounded-drain.ts";
import { CLIENT_KEY, TUNNEL_ID, relayToml } from "../tunnel/helpers.ts";
import { startTunnelRig, type TunnelRig } from "../tunnel/tunnel-rig.ts";
import { startRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { startCluster } from "./cluster-helpers.ts";
import { endlessUpload, refusedClosing } from "./endless-upload.ts";

let rig: TunnelRig;

beforeAll(async () => {
  // One stream for the whole tunnel: a held generation fills it.
  rig = await startTunnelRig({ relayToml: relayToml().replace("max_streams = 512", "max_streams = 1"), fake: { tokens: 100_000, tokenDelayMs: 20 } });
}, 30_000);

afterAll(async () => {
  await rig?.stop();
});

test("with the right key, an endless upload to a tunnel whose streams are all taken (429, decided after the call was admitted) is drained within the bounds and its connection closed", async () => {
  const held = new AbortController();
  const gen = await fetch(`${rig.relay.url}/t/${TUNNEL_ID}/api/generate`, {
    method: "POST",
    headers: { authorization: `Bearer ${CLIENT_KEY}` },
    body: JSON.stringify({ model: "llama3.2:1b", prompt: "hold" }),
    signal: held.signal,
  });
  expect(gen.status).toBe(200);
  const reader = gen.body!.getReader();
  try {
    // The generation is streaming: the tunnel's one stream is taken.
    expect((await reader.read()).done).toBe(false);
    await until(() => rig.fake.concurrency.now === 1, 5_000);
    const r = await endlessUpload(rig.relay.port, 64 * 1024, 0, 20_000, { lines: `Authorization: Bearer ${CLIENT_KEY}\r\nTransfer-Encoding: chunked\r\n` });
    refusedClosing(r.head, 429);
    expect(r.closed).toBe(true);
    // Answered after at most the drain's bytes (and the kernel's buffers), not after the whole upload.
    expect(r.sentAtAnswer).toBeLessThan(DRAIN_MAX_BYTES + 32 * 1024 * 1024);
  } finally {
    held.abort();
    await reader.cancel().catch(() => {});
  }
}, 40_000);

requireTools(["redis-server"]).test("at a cluster node, an endless upload over the tunnel's shared minute (429, admitted before Redis was asked) is drained within the bounds and its connection closed", async () => {
  const redis = await startRedis();
  // One request a minute: the first call spends it (the tunnel has no agent: 502), the upload meets the 429.
  const cluster = await startCluster({ redisUrl: redis.url, size: 1, requestsPerMinute: 1 });
  try {
    const node = cluster.nodes[0]!;
    const first = await fetch(`${node.url}/t/${TUNNEL_ID}/api/tags`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    expect(first.status).toBe(502);
    await first.arrayBuffer();
    const r = await endlessUpload(node.port, 64 * 1024, 0, 20_000, { lines: `Authorization: Bearer ${CLIENT_KEY}\r\nTransfer-Encoding: chunked\r\n` });
    refusedClosing(r.head, 429);
    expect(r.closed).toBe(true);
    expect(r.sentAtAnswer).toBeLessThan(DRAIN_MAX_BYTES + 32 * 1024 * 1024);
  } finally {
    await cluster.stop();
    await redis.stop();
  }
}, 40_000);
