// The agent's link cut and restored, in network namespaces (the relay in one, the agent and its upstream in another,
// a veth pair between): the session dies on both sides, the agent reconnects, and its answers resume.
import { expect } from "bun:test";
import { join } from "node:path";
import { NETNS_NEEDS } from "../helpers/netns.ts";
import { requireTools } from "../helpers/requires.ts";
import { DIALECTS, tokensIn } from "./resume-helpers.ts";

const { test } = requireTools(NETNS_NEEDS);

test("the agent's link cut past the heartbeat tolerance, then restored: NDJSON and SSE end with every token once, in order; one generation each", async () => {
  const scenario = join(import.meta.dir, "resume-netns-scenario.ts");
  const p = Bun.spawn(["unshare", "-rn", process.execPath, scenario], { env: process.env, stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  let r: { tokens: number; texts: string[]; upstream: { generations: string[]; aborts: number; resumedLog: number; heartbeatLost: number }; cutSeen: number; relayResumed: number };
  try {
    r = JSON.parse(out.trim().split("\n").at(-1)!);
  } catch {
    throw new Error(`the scenario failed (exit ${p.exitCode}):\n${out}\n${err}`);
  }
  // The cut was real: the relay lost the agent's session during it.
  expect(r.cutSeen).toBeGreaterThanOrEqual(1);
  for (const [i, d] of DIALECTS.entries()) {
    expect(tokensIn(r.texts[i]!)).toEqual(Array.from({ length: r.tokens }, (_, k) => k));
    expect(r.texts[i]!).toMatch(d.done);
    expect(r.texts[i]!).not.toMatch(/"error"/);
  }
  expect(r.upstream.generations.sort()).toEqual(DIALECTS.map((d) => d.path).sort());
  expect(r.upstream.aborts).toBe(0);
  expect(r.upstream.resumedLog).toBe(2);
  expect(r.relayResumed).toBe(2);
}, 60_000);
