// docs/relay.md's web app sample (fetch, NDJSON read with a ReadableStream, Stop), run as it is written in a real
// Chromium page on another origin against a real relay, daemon and fake upstream: a whole answer, one cut short, Stop
// during the answer and Stop before it began (the request waiting in the daemon's queue).
import { expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "bun";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../helpers/dashboard-browser.ts";
import { REPO, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { metric } from "../tunnel/resume-helpers.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["chromium"]);

/** The sample's model, served by the fake as it is named there. */
const MODEL = "llama3.2";
const TOKENS = 6;

let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;
let site: Server<undefined>;
let browser: Browser;
let sample: string;

/** The sample as docs/relay.md shows it, its relay address this test's. */
function docSample(relayUrl: string): string {
  const md = readFileSync(join(REPO, "docs/relay.md"), "utf8");
  const body = /```js\n(const ctl = new AbortController\(\);\n[\s\S]*?)```/.exec(md)?.[1];
  if (!body) throw new Error("docs/relay.md has no web app sample (```js block opening with `const ctl = new AbortController();`)");
  return body.replace(/https:\/\/relay\.example\.com/g, relayUrl);
}

beforeAll(async () => {
  fake = await startFakeOllama({ models: [MODEL], tokens: TOKENS, tokenDelayMs: 60 });
  // The web app's page: a Stop button and an output element, the globals the sample uses.
  site = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response('<!doctype html><title>web app</title><button id="stop">Stop</button><pre id="out"></pre>', { headers: { "content-type": "text/html" } }) });
  relay = await startRelayProc(relayToml() + `\n[cors]\nallowed_origins = ["http://127.0.0.1:${site.port}"]\n`);
  // One generation at a time: a second request waits in the daemon's queue, its answer not begun.
  const toml = daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }).replace(`url = "${fake.url}"\n`, `url = "${fake.url}"\nmax_parallel = 1\n`);
  daemon = await startAgentDaemon(toml);
  await until(async () => {
    const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    return (r.ok && ((await r.json()) as { models: unknown[] }).models.length > 0) || null;
  }, 10_000, "the broker to list the fake's model");
  sample = docSample(relay.url);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  site?.stop(true);
  await daemon?.stop();
  await relay?.stop();
  await fake?.stop();
  cleanup(relay?.dir, daemon?.home);
}, 30_000);

/** Starts the sample in a fresh page (the user pressed Send); `outcome()` is how it ended: "returned" or "threw NAME: message". */
async function send(): Promise<{ page: Page; outcome: () => Promise<string>; output: () => Promise<string> }> {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${site.port}/`);
  await page.evaluate(
    ({ code, key }) => {
      const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...a: string[]) => (...a: unknown[]) => Promise<void>;
      const run = new AsyncFunction("stopButton", "output", "key", "prompt", code);
      (globalThis as unknown as { ended: Promise<string> }).ended = run(document.getElementById("stop"), document.getElementById("out"), key, "hi").then(
        () => "returned",
        (e: Error) => `threw ${e.name}: ${e.message}`,
      );
    },
    { code: sample, key: CLIENT_KEY },
  );
  return {
    page,
    outcome: () => page.evaluate(() => (globalThis as unknown as { ended: Promise<string> }).ended),
    output: () => page.evaluate(() => document.getElementById("out")!.textContent ?? ""),
  };
}

/** The relay's requests_total for one status. */
const requestsWith = async (status: string) => Number((await (await fetch(`${relay.url}/metrics`)).text()).split("\n").find((l) => l.startsWith(`cloudtolocalllm_relay_requests_total{status="${status}"}`))?.split(" ").at(-1) ?? 0);

describe("docs/relay.md's web app sample, run as written in Chromium", () => {
  test("a whole answer: every token lands in the output, and the sample returns", async () => {
    const s = await send();
    expect(await s.outcome()).toBe("returned");
    expect(await s.output()).toBe(Array.from({ length: TOKENS }, (_, i) => `tok${i} `).join(""));
    await s.page.close();
  }, 20_000);

  test("an answer cut short (the upstream broke off): the sample throws the last line's sentence, never ends as if complete", async () => {
    fake.options.dieAfterTokens = 2;
    try {
      const s = await send();
      expect(await s.outcome()).toMatch(/^threw Error: upstream "fake" broke off the response/);
      // What came before the break stays (the fake's last token before it drops the connection may be lost with it).
      expect(await s.output()).toStartWith("tok0 ");
      expect(await s.output()).not.toContain(`tok${TOKENS - 1}`);
      await s.page.close();
    } finally {
      fake.options.dieAfterTokens = undefined;
    }
  }, 20_000);

  test("Stop during the answer: the sample returns quietly, the answer so far stays, and the upstream stops", async () => {
    fake.options.tokens = 1000;
    try {
      const before = fake.aborts.length;
      const s = await send();
      await until(async () => (await s.output()).includes("tok2 ") || null, 10_000, "three tokens in the page");
      await s.page.click("#stop");
      expect(await s.outcome()).toBe("returned");
      expect(await s.output()).toStartWith("tok0 tok1 tok2 ");
      expect((await fake.waitForAborts(before + 1, 10_000)).at(-1)!.path).toBe("/api/chat");
      await s.page.close();
    } finally {
      fake.options.tokens = TOKENS;
    }
  }, 30_000);

  test("Stop before the answer began (the request waits in the daemon's queue): the sample returns quietly, and the request never reaches the model", async () => {
    fake.options.tokens = 1000;
    // Another client's long generation holds the upstream's one slot.
    const other = new AbortController();
    const busy = fetch(`${daemon.urls.broker}/api/generate`, { method: "POST", signal: other.signal, body: JSON.stringify({ model: MODEL, prompt: "long", stream: false }) }).catch(() => null);
    try {
      await until(() => fake.requests.some((r) => r.path === "/api/generate") || null, 10_000, "the other generation to start");
      const before = { chats: fake.requests.filter((r) => r.path === "/api/chat").length, s499: await requestsWith("499") };
      const s = await send();
      // The page's request is at the daemon (the relay holds its stream), waiting: no answer has begun.
      await until(async () => (await metric(relay.url, "cloudtolocalllm_relay_streams_active")) === 1 || null, 10_000, "the page's request to reach the daemon");
      await s.page.click("#stop");
      expect(await s.outcome()).toBe("returned");
      expect(await s.output()).toBe("");
      // A Stop before the answer began is the relay's 499, and the model never ran the request.
      await until(async () => (await requestsWith("499")) === before.s499 + 1 || null, 10_000, "the relay to count the Stop as 499");
      expect(fake.requests.filter((r) => r.path === "/api/chat").length).toBe(before.chats);
      await s.page.close();
    } finally {
      other.abort();
      await busy;
      fake.options.tokens = TOKENS;
    }
  }, 30_000);
});
