// The networks users really have, in network namespaces (bad-networks-scenario.ts): a laptop that moves to another
// network (its address changes under a live tunnel), one whose address is taken away and given back while its link
// stays up, and a relay that vanishes without FIN or RST (half-open).
import { expect } from "bun:test";
import { join } from "node:path";
import { NETNS_NEEDS } from "../helpers/netns.ts";
import { requireTools } from "../helpers/requires.ts";
import { DIALECTS, tokensIn } from "./resume-helpers.ts";

// unshare is in NETNS_NEEDS too; named here because the requires check reads this literal list.
const { test } = requireTools([...NETNS_NEEDS, "unshare", "nsenter"]);

interface Outcome {
  tokens: number;
  cutAt: number;
  endedAt: number;
  texts: string[];
  upstream: { generations: string[]; aborts: number; resumedLog: number; tunnelLines: string[] };
  relayLines: string[];
  relayResumed: number;
}

async function scenario(name: "address" | "route" | "vanish"): Promise<Outcome> {
  const p = Bun.spawn(["unshare", "-rn", process.execPath, join(import.meta.dir, "bad-networks-scenario.ts"), name], { env: process.env, stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  try {
    return JSON.parse(out.trim().split("\n").at(-1)!) as Outcome;
  } catch {
    throw new Error(`the scenario failed (exit ${p.exitCode}):\n${out}\n${err}`);
  }
}

/** The time a log line was written (its leading ISO timestamp), ms since 1970. */
const at = (line: string) => Date.parse(line.split(" ")[0]!);

test("a laptop that moves to another network mid-stream (its address changes): the agent reconnects from the new address and NDJSON and SSE answers resume, every token once, one generation each", async () => {
  const r = await scenario("address");
  for (const [i, d] of DIALECTS.entries()) {
    expect(tokensIn(r.texts[i]!)).toEqual(Array.from({ length: r.tokens }, (_, k) => k));
    expect(r.texts[i]!).toMatch(d.done);
    expect(r.texts[i]!).not.toMatch(/"error"/);
  }
  // Back from the new address.
  expect(r.relayLines.some((l) => /agent connected .*remote=10\.204\.0\.3/.test(l))).toBe(true);
  expect(r.upstream.generations.sort()).toEqual(DIALECTS.map((d) => d.path).sort());
  expect(r.upstream.aborts).toBe(0);
  expect(r.relayResumed).toBe(2);
}, 60_000);

test("the agent's address taken away while its link stays up, then given back: both ends declare the session dead within the tolerance plus a tick, the agent reconnects from the same address, and NDJSON and SSE answers resume, every token once, one generation each", async () => {
  const r = await scenario("route");
  // daemonToml: interval 300 ms, tolerance 1.2 s (docs/protocol.md: noticed within tolerance plus one tick). A second
  // of slack for a loaded machine.
  const lost = r.upstream.tunnelLines.find((l) => /heartbeat_timeout/.test(l));
  expect(lost).toBeDefined();
  expect(at(lost!) - r.cutAt).toBeLessThan(1_200 + 300 + 1_000);
  const relayLost = r.relayLines.find((l) => /agent disconnected .*heartbeat_timeout/.test(l));
  expect(relayLost).toBeDefined();
  expect(at(relayLost!) - r.cutAt).toBeLessThan(1_200 + 300 + 1_000);
  for (const [i, d] of DIALECTS.entries()) {
    expect(tokensIn(r.texts[i]!)).toEqual(Array.from({ length: r.tokens }, (_, k) => k));
    expect(r.texts[i]!).toMatch(d.done);
    expect(r.texts[i]!).not.toMatch(/"error"/);
  }
  // While it had no address its attempts failed here, and said so: no route, not a relay that refuses (Bun's node:net
  // reports ECONNREFUSED for ENETUNREACH, which sent a user after a relay that was fine).
  const failed = r.upstream.tunnelLines.filter((l) => /relay connection failed; retrying .*code=network/.test(l));
  expect(failed.length).toBeGreaterThanOrEqual(1);
  for (const l of failed) expect(l).toContain("cannot reach the relay at 10.204.0.1:");
  for (const l of failed) expect(l).toContain("network unreachable (this machine has no route to that address) (ENETUNREACH)");
  // Back from the same address, once: the attempts while it had none failed on this side and reached no relay.
  expect(r.relayLines.filter((l) => /agent connected .*remote=10\.204\.0\.2/.test(l)).length).toBe(2);
  expect(r.upstream.generations.sort()).toEqual(DIALECTS.map((d) => d.path).sort());
  expect(r.upstream.aborts).toBe(0);
  expect(r.relayResumed).toBe(2);
}, 60_000);

test("the relay vanishes without FIN or RST: the agent declares the session dead within its tolerance plus a tick, and the clients at the relay get the error line once its resume window passes", async () => {
  const r = await scenario("vanish");
  // daemonToml: interval 300 ms, tolerance 1.2 s: the check runs every 300 ms. A second of slack for a loaded machine.
  const lost = r.upstream.tunnelLines.find((l) => /heartbeat_timeout/.test(l));
  expect(lost).toBeDefined();
  expect(at(lost!) - r.cutAt).toBeLessThan(1_200 + 300 + 1_000);
  const relayLost = r.relayLines.find((l) => /agent disconnected .*heartbeat_timeout/.test(l));
  expect(relayLost).toBeDefined();
  expect(at(relayLost!) - r.cutAt).toBeLessThan(1_200 + 300 + 1_000);
  const why = /and its agent did not resume it within 3s; the answer is incomplete$/;
  expect(JSON.parse(r.texts[0]!.trimEnd().split("\n").at(-1)!)).toEqual({ error: expect.stringMatching(why) });
  expect(JSON.parse(/event: error\ndata: (.*)\n\n$/.exec(r.texts[1]!)![1]!)).toMatchObject({ error: { message: expect.stringMatching(why), code: "tunnel_offline" } });
  for (const t of r.texts) {
    const seen = tokensIn(t);
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, k) => k));
  }
}, 60_000);
