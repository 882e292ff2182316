// The gateway's promises through the relay and the tunnel, beside the same calls on this machine: who the broker sees
// as the caller, the fair queue between the two ways in, keys' limits and budgets shared across them, exact usage.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, createKey, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

let fake: FakeOllama;
let relay: RelayProc;
let d: DaemonProc;
let token: string;
let local: string;
let remote: string;

beforeAll(async () => {
  // Every answer takes the fake upstream a fixed time (3 tokens, 70 ms each); one at a time (max_parallel = 1).
  fake = await startFakeOllama({ models: ["m:1b"], tokens: 3, tokenDelayMs: 70 });
  relay = await startRelayProc(relayToml());
  const toml = daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` })
    .replace(`url = "${fake.url}"\n`, `url = "${fake.url}"\nmax_parallel = 1\n`)
    .replace("[proxy]\n", "[proxy]\nqueue_limit = 6\n");
  d = await startAgentDaemon(toml);
  token = await apiToken(d);
  local = d.urls.broker!;
  remote = `${relay.url}/t/${TUNNEL_ID}`;
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await relay?.stop("SIGKILL");
  await fake?.stop();
  cleanup(relay?.dir, d?.home);
});

/** A key made with the CLI, once the daemon sees it (within a second). */
async function key(name: string, ...flags: string[]): Promise<string> {
  const k = createKey(d, name, ...flags);
  await until(async () => (await fetch(`${local}/api/version`, { headers: { "x-api-key": k } })).status === 200, 5000, `the daemon to see the key ${name}`);
  return k;
}

/** Headers for a call on this machine, or through the relay (its client key as the bearer token), with a gateway key or none. */
const headersFor = (where: string, gatewayKey?: string): Record<string, string> => ({
  "content-type": "application/json",
  ...(where === remote ? { authorization: `Bearer ${CLIENT_KEY}` } : {}),
  ...(gatewayKey ? { "x-api-key": gatewayKey } : {}),
});

const generate = (where: string, prompt: string, gatewayKey?: string, signal?: AbortSignal) =>
  fetch(`${where}/api/generate`, { method: "POST", headers: headersFor(where, gatewayKey), body: JSON.stringify({ model: "m:1b", prompt, stream: false }), signal });

interface UsageRow {
  key: string;
  model: string;
  caller: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
}
async function usageRows(keyName: string): Promise<UsageRow[]> {
  const r = await fetch(`${d.urls.api}/api/v1/usage?key=${encodeURIComponent(keyName)}`, { headers: { authorization: `Bearer ${token}` } });
  return ((await r.json()) as { rows: UsageRow[] }).rows;
}

/**
 * Nine workers retrying every 0.1 s fill the queue (max_parallel 1, queue_limit 6) from one side; the editor asks five
 * times from the other. Counted in answers, not milliseconds: how many other requests reached the upstream after the
 * editor asked and before its own did.
 */
async function floodVersusEditor(flood: () => Promise<Response>, editor: (prompt: string) => Promise<Response>, tag: string) {
  const stop = new AbortController();
  let floodRefused = 0;
  const worker = async () => {
    while (!stop.signal.aborted) {
      try {
        const r = await Promise.race([flood(), new Promise<never>((_, no) => stop.signal.addEventListener("abort", () => no(new Error("stopped"))))]);
        await r.arrayBuffer();
        if (r.status === 429) floodRefused++;
      } catch {}
      await Bun.sleep(100);
    }
  };
  const workers = Array.from({ length: 9 }, worker);
  await until(() => floodRefused > 0, 15_000, "the flood to fill the queue");
  const tries: { status: number; othersFirst: number }[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const prompt = `${tag}${i}`;
      const sent = performance.now();
      const r = await editor(prompt);
      await r.arrayBuffer();
      const mine = fake.requests.find((x) => (x.json as { prompt?: string } | undefined)?.prompt === prompt);
      const othersFirst = mine ? fake.requests.filter((x) => x.path === "/api/generate" && x.time > sent && x.time < mine.time).length : Infinity;
      tries.push({ status: r.status, othersFirst });
      await Bun.sleep(20 + Math.random() * 100);
    }
  } finally {
    stop.abort();
    await Promise.all(workers);
  }
  return tries;
}

test("a flood on this machine cannot starve an editor through the relay, nor a flood through the relay one here: the editor is never refused and is served within two answers' time", async () => {
  const editorKey = await key("editor");
  const floodKey = await key("flood");
  // The common set-up: a script on this machine (no key needed), the editor through the relay (its client key only).
  const remoteEditor = await floodVersusEditor(() => generate(local, "flood"), (p) => generate(remote, p), "remote-editor");
  expect(remoteEditor.map((t) => t.status)).toEqual(Array(5).fill(200));
  expect(remoteEditor.filter((t) => t.othersFirst <= 1).length).toBeGreaterThanOrEqual(4);
  // The reverse, with gateway keys on both sides.
  await until(() => fake.concurrency.now === 0, 5000, "the flood's last answers");
  const localEditor = await floodVersusEditor(() => generate(remote, "flood", floodKey), (p) => generate(local, p, editorKey), "local-editor");
  expect(localEditor.map((t) => t.status)).toEqual(Array(5).fill(200));
  expect(localEditor.filter((t) => t.othersFirst <= 1).length).toBeGreaterThanOrEqual(4);
}, 90_000);
