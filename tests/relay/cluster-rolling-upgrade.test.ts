// A rolling upgrade as docs/relay-cluster.md describes it, with real processes (Debian's redis-server, HAProxy from
// the docs, a real daemon as the agent): the node of the previous release (BEFORE_SCHEDULING) holding the agent gets
// SIGTERM while a node of this release is up beside it. Its answers in flight finish whole, every call made meanwhile
// through the balancer is answered, and the agent ends at the new node.
import { expect } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../bench/lib/proc.ts";
import { startFakeOllama } from "../helpers/fake-ollama.ts";
import { BEFORE_SCHEDULING, commitPresent, oldRelease } from "../helpers/old-release.ts";
import { startRedis } from "../helpers/redis.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { ADMIN_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { DIALECTS, streamingCall, tokensIn } from "../tunnel/resume-helpers.ts";
import { clusterNodeToml, startHaproxy, writeClusterSecret } from "./cluster-helpers.ts";

const { test } = requireTools(["redis-server", "haproxy", "git", commitPresent(BEFORE_SCHEDULING)]);
const TOKENS = 150;

test(`SIGTERM of a node of the previous release (${BEFORE_SCHEDULING}) holding the agent, beside a node of this release: streams whole, every call answered, the agent at the new node`, async () => {
  const old = oldRelease(BEFORE_SCHEDULING);
  const redis = await startRedis();
  const fake = await startFakeOllama({ tokens: TOKENS, tokenDelayMs: 20 });
  const dir = mkdtempSync(join(tmpdir(), "c2l-rolling-"));
  const secretFile = writeClusterSecret(dir);
  const spec = async (id: string) => ({ id, port: await freePort(), internal: `127.0.0.1:${await freePort()}` });
  const [a, b] = [await spec("old"), await spec("new")];
  const start = (s: typeof a, main?: string): Promise<RelayProc> => {
    const toml = clusterNodeToml({ redisUrl: redis.url, secretFile, id: s.id, listen: `127.0.0.1:${s.port}`, internal: s.internal });
    // The previous release knows no per-client share of the minute.
    return startRelayProc(main ? toml.replace(/^requests_per_minute_per_client.*\n/m, "") : toml, mkdtempSync(join(dir, `${s.id}-`)), [], main);
  };
  // Only the old node is up: the agent lands there; then the new node joins.
  const procs: RelayProc[] = [];
  let lb: Awaited<ReturnType<typeof startHaproxy>> | undefined;
  let daemon: Awaited<ReturnType<typeof startAgentDaemon>> | undefined;
  try {
    procs.push(await start(a, old.main));
    lb = await startHaproxy([a, b]);
    const base = lb.url;
    daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${base.replace(/^http/, "ws")}/agent` }));
    const nodeB = await start(b);
    procs.push(nodeB);
    const holder = async () => ((await (await fetch(`${nodeB.url}/api/tunnels`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { tunnels: { id: string; node: string }[] }).tunnels.find((t) => t.id === TUNNEL_ID)?.node;
    await until(async () => (await holder()) === "old", 10_000, "the new node to see the tunnel at the old node");
    // HAProxy's health check brings the new node in before the old one goes.
    await until(async () => (await fetch(`${base}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } })).headers.get("x-c2l-relay-node") === "new", 10_000, "the balancer to send calls to the new node");

    const calls = DIALECTS.map((d) => streamingCall(base, d));
    await Promise.all(calls.map((c) => c.started));
    let stop = false;
    const statuses: string[] = [];
    const meanwhile = (async () => {
      while (!stop) {
        const r = await fetch(`${base}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
        statuses.push(r.status === 200 ? "200" : `${r.status} ${await r.text()}`);
        if (r.status === 200) await r.arrayBuffer();
        await Bun.sleep(20);
      }
    })();
    procs[0]!.proc.kill("SIGTERM");
    const [ndjson, sse] = await Promise.all(calls.map((c) => c.done));
    await until(async () => (await holder()) === "new", 10_000, "the agent at the new node");
    stop = true;
    await meanwhile;
    expect(ndjson).toContain('"done":true');
    expect(sse).toEndWith("data: [DONE]\n\n");
    for (const t of [ndjson!, sse!]) expect(tokensIn(t)).toEqual(Array.from({ length: TOKENS }, (_, k) => k));
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((s) => s !== "200")).toEqual([]);
    expect(await procs[0]!.proc.exited).toBe(0);
  } finally {
    await daemon?.stop();
    await lb?.stop();
    await Promise.all(procs.map((p) => p.stop("SIGKILL")));
    await fake.stop();
    await redis.stop();
    cleanup(dir, old.dir, daemon?.home);
  }
}, 90_000);
