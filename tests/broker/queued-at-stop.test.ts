// Requests waiting in the broker's fair queue when the daemon stops (SIGTERM) get the reason in their dialect at once —
// on this machine and through the relay — with the official clients; not a reset connection, not a late start.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { apiToken, removeHome, startDaemon, TEST_DAEMON_TOML, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

const MODEL = "m:1b";
const REASON = "the daemon is stopping; the request waited in the queue and was not started";
let slow: FakeOllama;
let relay: RelayProc;

beforeAll(async () => {
  // One generation at a time (max_parallel = 1), 10 s each: the others wait in the queue while it runs.
  slow = await startFakeOllama({ models: [MODEL], tokens: 500, tokenDelayMs: 20 });
  relay = await startRelayProc(relayToml());
}, 40_000);
afterAll(async () => {
  await relay?.stop();
  await slow?.stop();
  cleanup(relay?.dir);
});

async function thrown(p: Promise<unknown>): Promise<Error & { status?: number; status_code?: number }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("the call succeeded");
}
const drain = async (it: AsyncIterable<unknown>) => {
  for await (const _ of it);
};
const waiting = async (d: DaemonProc, token: string) =>
  ((await (await fetch(`${d.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { queue?: { waiting: number } }).queue?.waiting ?? 0;

/** One stream running on the only slot, four calls queued behind it (each dialect, streamed and whole), then SIGTERM. */
async function stopWhileQueued(d: DaemonProc, base: string, headers: Record<string, string>): Promise<void> {
  const token = await apiToken(d);
  await untilUpstreamsUp(d, token, 1);
  let tokens = 0;
  const running = (async () => {
    for await (const _ of await new Ollama({ host: base, headers }).chat({ model: MODEL, messages: [{ role: "user", content: "hi" }], stream: true })) tokens++;
  })().catch(() => {});
  await until(() => tokens > 2, 10_000, "the first stream to run");
  const o = thrown(new Ollama({ host: base, headers }).chat({ model: MODEL, messages: [{ role: "user", content: "hi" }], stream: false }));
  // A streaming OpenAI call that waits gets its SSE head at once (queued-sse.ts): the reason comes as its error event.
  const c = thrown(
    (async () => drain(await new OpenAI({ baseURL: `${base}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 }).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }], stream: true })))(),
  );
  const anthropic = new Anthropic({ baseURL: base, apiKey: null, authToken: CLIENT_KEY, maxRetries: 0 });
  const a = thrown(anthropic.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: "user", content: "hi" }] }));
  const as = thrown(anthropic.messages.stream({ model: MODEL, max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).finalMessage());
  await until(async () => (await waiting(d, token)) === 4, 10_000, "four calls to wait in the queue");
  const t0 = performance.now();
  d.proc.kill("SIGTERM");
  // Before: a reset connection ("socket connection was closed unexpectedly"), or (through the relay) the tunnel's
  // "disconnected" sentence once go_away_grace ran out, after the queued calls had been started on the freed slot.
  const oe = await o;
  expect(oe.status_code).toBe(503);
  expect(oe.message).toBe(REASON);
  const ce = await c;
  expect(ce).toBeInstanceOf(OpenAI.APIError);
  expect(ce.message).toContain(REASON);
  const ae = await a;
  expect(ae).toBeInstanceOf(Anthropic.APIError);
  expect(ae.status).toBe(503);
  expect(ae.message).toContain(REASON);
  const ase = await as;
  expect(ase).toBeInstanceOf(Anthropic.APIError);
  expect(ase.message).toContain(REASON);
  // At once, not after the running stream (10 s) or the tunnel's grace.
  expect(performance.now() - t0).toBeLessThan(5000);
  expect(await d.proc.exited).toBe(0);
  await running;
  // None of them reached the upstream: only the running stream's generation was ever asked.
  expect(slow.requests.filter((r) => r.path === "/api/chat" || r.path.startsWith("/v1/")).length).toBe(1);
}

test("on this machine: each queued call gets 503 with the reason in its dialect (Ollama, OpenAI stream, Anthropic whole and streamed)", async () => {
  slow.requests.length = 0;
  const d = await startDaemon({
    config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "${slow.url}"\nmax_parallel = 1\n`,
    waitFor: ["api", "broker"],
  });
  try {
    await stopWhileQueued(d, d.urls.broker!, {});
  } finally {
    await d.stop();
    removeHome(d.home);
  }
}, 40_000);

test("through the relay: each queued call gets the same answer at once, while the running stream has its grace", async () => {
  slow.requests.length = 0;
  const toml = daemonToml({ upstream: slow.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: 'go_away_grace = "3s"' }).replace(
    `url = "${slow.url}"\n`,
    `url = "${slow.url}"\nmax_parallel = 1\n`,
  );
  const d = await startAgentDaemon(toml);
  try {
    await stopWhileQueued(d, `${relay.url}/t/${TUNNEL_ID}`, { authorization: `Bearer ${CLIENT_KEY}` });
  } finally {
    await d.stop();
    removeHome(d.home);
  }
}, 40_000);
