// docs/relay-cluster.md's balancer promise "a refused connection moves to another node", attacked through the docs' own HAProxy and nginx blocks in front of one live relay and one closed port, with health checks out of the way.
import { afterAll, beforeAll, expect } from "bun:test";
import { closedPort } from "../helpers/own-ports.ts";
import { requireTools } from "../helpers/requires.ts";
import { cleanup, relayToml, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { docBlock, startHaproxy, startNginx, type TestProxy } from "./cluster-helpers.ts";

const { test } = requireTools(["haproxy", "nginx"]);

let relay: RelayProc;
let dead: number;
beforeAll(async () => {
  relay = await startRelayProc(relayToml());
  dead = await closedPort();
});
afterAll(async () => {
  await relay?.stop();
  cleanup(relay?.dir);
});

/** The status of each of `n` calls through the proxy, one at a time (round robin sends every other one to the closed port first). */
async function statuses(lb: TestProxy, n = 6): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await fetch(`${lb.url}/healthz`, { headers: { connection: "close" } }).then((r) => r.status));
  return out;
}

/** The docs' server lines without `check`: before a health check marks the node down, only retries can save a call. */
const noChecks = (cfg: string) => cfg.replace(/^(\s*server relay\d \S+) check$/gm, "$1");

test("HAProxy as the docs configure it: `retries` with `redispatch` move a call refused by a dead node to a live one (without redispatch it fails)", async () => {
  expect(docBlock("haproxy")).toMatch(/^\s*option redispatch$/m);
  const nodes = [{ port: dead }, { port: relay.port }];
  const lb = await startHaproxy(nodes, undefined, { edit: noChecks });
  try {
    expect(await statuses(lb)).toEqual([200, 200, 200, 200, 200, 200]);
  } finally {
    await lb.stop();
  }
  // The same without the docs' `option redispatch`: the retries stay on the dead node, so the check can fail.
  const bare = await startHaproxy(nodes, undefined, { edit: (c) => noChecks(c).replace(/^\s*option redispatch\n/m, "") });
  try {
    expect((await statuses(bare, 4)).filter((s) => s !== 200).length).toBeGreaterThan(0);
  } finally {
    await bare.stop();
  }
}, 60_000);

test("nginx as the docs configure it: `proxy_next_upstream error timeout` sends a call refused by a dead node on to a live one (with it off, that call fails)", async () => {
  expect(docBlock("nginx")).toMatch(/^\s*proxy_next_upstream error timeout;$/m);
  const nodes = [{ port: dead }, { port: relay.port }];
  // max_fails=0: the dead node stays in the rotation (the docs' max_fails=1 takes it out for 2 s after a failure, and the
  // startup wait may have found it out already), so every other call meets the refusal and only the retry saves it.
  const keep = (c: string) => c.replace(/max_fails=1/g, "max_fails=0");
  const lb = await startNginx(nodes, "", undefined, keep);
  try {
    expect(await statuses(lb)).toEqual([200, 200, 200, 200, 200, 200]);
  } finally {
    await lb.stop();
  }
  const bare = await startNginx(nodes, "", undefined, (c) => keep(c).replace(/proxy_next_upstream error timeout;/, "proxy_next_upstream off;"));
  try {
    expect((await statuses(bare, 4)).filter((s) => s !== 200).length).toBeGreaterThan(0);
  } finally {
    await bare.stop();
  }
}, 60_000);
