// The resume promises (docs/protocol.md, Resume) at their edges, through a real relay and daemon: many answers cut at
// once, cut again right after they resumed, some read slowly; every token still reaches each client once and in order.
// An agent that leaves on purpose is not waited for.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";
import { DIALECTS, metric, pauseRelayPastTolerance, tokensIn } from "./resume-helpers.ts";

const TOKENS = 120;
const PER_DIALECT = 8;
let rig: TunnelRig;
let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;

beforeAll(async () => {
  rig = await startTunnelRig({ fake: { tokens: TOKENS, tokenDelayMs: 40 }, relayToml: relayToml({ extra: 'resume_window = "20s"' }) });
  ({ fake, relay, daemon } = rig);
}, 30_000);

afterAll(() => rig?.stop());

/** A streaming call read to its end; a slow one pauses after each chunk. `started` resolves on its first token. */
function call(d: (typeof DIALECTS)[number], slowMs: number, r: RelayProc = relay) {
  let first!: () => void;
  const started = new Promise<void>((r) => (first = r));
  const done = (async () => {
    const res = await fetch(`${r.url}/t/${TUNNEL_ID}${d.path}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(d.body),
    });
    let text = "";
    const dec = new TextDecoder();
    for await (const chunk of res.body!) {
      text += dec.decode(chunk, { stream: true });
      if (/tok\d+ /.test(text)) first();
      if (slowMs) await Bun.sleep(slowMs);
    }
    return text;
  })();
  done.catch(() => first());
  return { started, done };
}

test(`${PER_DIALECT * 2} answers cut at once, then cut again just after they resumed, some read slowly: every token once, in order; one generation each`, async () => {
  const before = fake.requests.length;
  const calls = DIALECTS.flatMap((d) => Array.from({ length: PER_DIALECT }, (_, i) => ({ d, c: call(d, i % 2 ? 30 : 0) })));
  await Promise.all(calls.map((x) => x.c.started));
  await pauseRelayPastTolerance(relay, daemon);
  // The second cut as soon as the first resumes were taken over: some replays are still under way.
  await until(async () => (await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total")) >= 1, 5_000, "a first resume");
  await pauseRelayPastTolerance(relay, daemon);
  const texts = await Promise.all(calls.map((x) => x.c.done));
  for (const [i, { d }] of calls.entries()) {
    expect(tokensIn(texts[i]!)).toEqual(Array.from({ length: TOKENS }, (_, k) => k));
    expect(texts[i]!).toMatch(d.done);
    expect(texts[i]!).not.toMatch(/"error"/);
  }
  expect(fake.requests.slice(before).filter((r) => DIALECTS.some((d) => d.path === r.path)).length).toBe(calls.length);
  expect(fake.aborts).toEqual([]);
  expect(await metric(relay.url, "cloudtolocalllm_relay_resume_failed_total")).toBe(0);
}, 60_000);

test("an agent that leaves on purpose (daemon SIGTERM) past its go_away_grace: the answers end with the error line at once, not after the relay's resume window", async () => {
  // A relay of its own: this tunnel's agent above must not take the tunnel back meanwhile.
  const own = await startRelayProc(relayToml({ extra: 'resume_window = "20s"' }));
  const leaving = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${own.url.replace(/^http/, "ws")}/agent`, tunnel: 'go_away_grace = "1s"' }));
  const aborts = fake.aborts.length;
  const calls = DIALECTS.map((d) => call(d, 0, own));
  try {
    await Promise.all(calls.map((c) => c.started));
    const t0 = performance.now();
    const exited = leaving.stop("SIGTERM");
    const texts = await Promise.all(calls.map((c) => c.done));
    // The grace (1 s) and a little: the relay's window (20 s) is not waited out for an agent that said it leaves.
    expect(performance.now() - t0).toBeLessThan(5_000);
    const why = /^tunnel "alice" disconnected in the middle of the answer .*; the answer is incomplete$/;
    expect(JSON.parse(texts[0]!.trimEnd().split("\n").at(-1)!)).toEqual({ error: expect.stringMatching(why) });
    expect(JSON.parse(/event: error\ndata: (.*)\n\n$/.exec(texts[1]!)![1]!)).toMatchObject({ error: { message: expect.stringMatching(why), code: "tunnel_offline" } });
    expect(await exited).toBe(0);
    await fake.waitForAborts(aborts + 2, 5_000);
  } finally {
    await leaving.stop("SIGKILL");
    await own.stop();
    cleanup(leaving.home, own.dir);
  }
}, 30_000);
