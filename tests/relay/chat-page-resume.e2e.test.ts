// The relay's /chat page in Chromium while its tunnel's agent loses the link mid-answer and comes back: the relay
// resumes the answer, and the page shows one uninterrupted answer (every token once, in order, no error, "Done").
import { expect } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { requireTools } from "../helpers/requires.ts";
import { launchChromium } from "../helpers/dashboard-browser.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startBlackholeProxy, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { metric } from "../tunnel/resume-helpers.ts";
import { startTestIssuer, type TestIssuer } from "./test-issuer.ts";

const { afterAll, beforeAll, test } = requireTools(["chromium"]);

const TOKENS = 80;
let fake: FakeOllama;
let relay: RelayProc;
let proxy: Awaited<ReturnType<typeof startBlackholeProxy>>;
let daemon: DaemonProc;
let browser: Browser;
let issuer: TestIssuer;

beforeAll(async () => {
  fake = await startFakeOllama({ tokens: TOKENS, tokenDelayMs: 50 });
  // Signed in, the page calls /me/: tunnel alice is owned by the issuer's subject "alice".
  issuer = await startTestIssuer();
  relay = await startRelayProc(`${relayToml({ extra: `resume_window = "20s"\n${issuer.oidcToml}chat_client_id = "c2l-chat"\n` })}subject = "alice"\n`);
  // The agent reaches the relay through a proxy whose open connections the test cuts (a lost link; the next one works).
  proxy = await startBlackholeProxy({ host: "127.0.0.1", port: relay.port });
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `ws://127.0.0.1:${proxy.port}/agent` }));
  await until(async () => {
    const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    return (r.ok && ((await r.json()) as { models: unknown[] }).models.length > 0) || null;
  }, 10_000, "the tunnel to list its models");
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  await daemon?.stop();
  proxy?.stop();
  await relay?.stop();
  await fake?.stop();
  issuer?.stop();
  cleanup(relay?.dir, daemon?.home);
}, 30_000);

/** The chat page, connected with the key to /t/alice/, or signed in (its token in the tab, as sign-in leaves it) to /me/. */
async function openChat(how: "key" | "signed-in"): Promise<Page> {
  const page = await browser.newPage();
  if (how === "signed-in") {
    const token = await issuer.sign("alice");
    await page.addInitScript((t) => {
      sessionStorage.setItem("c2l-chat-token", t);
      sessionStorage.setItem("c2l-chat", JSON.stringify({ tunnel: "", key: "" }));
    }, token);
    await page.goto(`${relay.url}/chat`);
  } else {
    await page.goto(`${relay.url}/chat`);
    await page.locator("#tunnel-id").fill(TUNNEL_ID);
    await page.locator("#client-key").fill(CLIENT_KEY);
    await page.locator("#connect-button").click();
  }
  await page.locator("#chat").waitFor({ state: "visible" });
  return page;
}

for (const how of ["key", "signed-in"] as const) test(`${how}: an answer the agent resumes after a lost link is one uninterrupted answer in the chat page`, async () => {
  const page = await openChat(how);
  const called: string[] = [];
  page.on("request", (r) => called.push(new URL(r.url()).pathname));
  const resumed = await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total");
  const chats = fake.requests.filter((r) => r.path === "/api/chat").length;
  await page.locator("#prompt").fill("Say something long");
  await page.locator("#send").click();
  await page.waitForFunction(() => (document.querySelector("#messages li.assistant:last-child")?.textContent ?? "").includes("tok5 "));

  const connected = daemon.count(/tunnel: connected to the relay/);
  proxy.cut();
  await until(() => daemon.count(/tunnel: connected to the relay/) > connected || null, 10_000, "the agent to reconnect");
  await page.locator("#status", { hasText: "Done" }).waitFor({ timeout: 20_000 });

  const text = (await page.locator("#messages li.assistant").last().textContent())!;
  expect(text).toBe(Array.from({ length: TOKENS }, (_, i) => `tok${i} `).join(""));
  expect(await page.locator("#error").isVisible()).toBe(false);
  expect(called).toContain(how === "key" ? `/t/${TUNNEL_ID}/api/chat` : "/me/api/chat");
  // It was resumed (not a lucky answer that finished before the cut), and generated once.
  expect(await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total")).toBe(resumed + 1);
  expect(fake.requests.filter((r) => r.path === "/api/chat").length).toBe(chats + 1);
  await page.close();
}, 60_000);

test("Stop while the answer waits for its agent to come back: the generation is still cancelled upstream once the agent is back", async () => {
  fake.options.tokens = 1000;
  try {
    const page = await openChat("key");
    await page.locator("#prompt").fill("Say something long");
    await page.locator("#send").click();
    await page.waitForFunction(() => (document.querySelector("#messages li.assistant:last-child")?.textContent ?? "").includes("tok5 "));
    const aborts = fake.aborts.length;
    const connected = daemon.count(/tunnel: connected to the relay/);
    proxy.cut();
    // The page gives up during the cut, before the agent has even noticed it.
    await page.locator("#stop").click();
    await page.locator("#status", { hasText: "Stopped" }).waitFor();
    await until(() => daemon.count(/tunnel: connected to the relay/) > connected || null, 10_000, "the agent to reconnect");
    await fake.waitForAborts(aborts + 1, 5_000);
    await page.close();
  } finally {
    fake.options.tokens = TOKENS;
  }
}, 60_000);
