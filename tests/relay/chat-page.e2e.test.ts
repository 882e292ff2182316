// End to end: the relay's /chat page in headless Debian Chromium, against a real relay, a real daemon on its tunnel and
// a fake Ollama that streams slowly: paste a key and tunnel id, pick a model, watch tokens arrive, Stop cancels upstream.
import { expect } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../helpers/dashboard-browser.ts";
import { requireTools } from "../helpers/requires.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { REPO, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["chromium"]);

const ARTIFACTS = join(REPO, "artifacts");
/** The committed screenshot is rewritten only when asked (C2L_UPDATE_SCREENSHOTS=1); otherwise it goes to artifacts/. */
const CHAT_SHOT = process.env.C2L_UPDATE_SCREENSHOTS === "1" ? join(REPO, "docs/screenshots/chat-page.png") : join(ARTIFACTS, "chat-page.png");
const MODELS = ["llama3.2:1b", "qwen2.5:0.5b"];

let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;
let browser: Browser;

beforeAll(async () => {
  fake = await startFakeOllama({ models: MODELS, tokens: 400, tokenDelayMs: 40 });
  // A second tunnel, "carol", that the same key may use but whose agent never connects (offline).
  relay = await startRelayProc(`${relayToml()}\n[[tunnels]]\nid = "carol"\nagent_token_sha256 = "${hashToken("carol-agent-token-0123456789")}"\nclient_key_sha256 = ["${hashToken(CLIENT_KEY)}"]\n`);
  // One generation at a time upstream: a second one waits in the daemon's queue (the page shows where it waited).
  const toml = daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }).replace(`url = "${fake.url}"\n`, `url = "${fake.url}"\nmax_parallel = 1\n`);
  expect(toml).toContain("max_parallel = 1");
  daemon = await startAgentDaemon(toml);
  // The broker learns the models from its first health check.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    if (r.ok && ((await r.json()) as { models: unknown[] }).models.length === MODELS.length) break;
    await Bun.sleep(100);
  }
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  await daemon?.stop();
  await relay?.stop();
  await fake?.stop();
  cleanup(relay?.dir, daemon?.home);
}, 30_000);

/** A page that records every URL it requests (to prove nothing leaves the relay's origin). */
async function openChat(viewport = { width: 1024, height: 768 }): Promise<{ page: Page; requested: string[] }> {
  const page = await browser.newPage({ viewport });
  const requested: string[] = [];
  page.on("request", (r) => requested.push(r.url()));
  const res = await page.goto(`${relay.url}/chat`);
  expect(res?.status()).toBe(200);
  return { page, requested };
}

async function connect(page: Page, key = CLIENT_KEY, tunnel = TUNNEL_ID): Promise<void> {
  await page.locator("#tunnel-id").fill(tunnel);
  await page.locator("#client-key").fill(key);
  await page.locator("#connect-button").click();
}

describe("the relay's chat page (issue 25 item 3)", () => {
  test("served with a strict CSP, it lists the tunnel's models, streams an answer, and Stop cancels it upstream", async () => {
    const head = await fetch(`${relay.url}/chat`);
    expect(head.status).toBe(200);
    expect(head.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(head.headers.get("content-security-policy")).toContain("connect-src 'self'");

    const { page, requested } = await openChat();
    await connect(page);
    await page.locator("#chat").waitFor({ state: "visible" });
    expect(await page.locator("#model option").allTextContents()).toEqual(MODELS);
    await page.locator("#model").selectOption("qwen2.5:0.5b");

    await page.locator("#prompt").fill("Say something long");
    await page.locator("#send").click();
    const answer = page.locator("#messages li.assistant").last();
    // Tokens arrive one by one: first a few, then more, while the answer is still running (Stop is enabled).
    await page.waitForFunction(() => (document.querySelector("#messages li.assistant:last-child")?.textContent ?? "").includes("tok2 "));
    const early = (await answer.textContent())!;
    await page.waitForFunction((n) => (document.querySelector("#messages li.assistant:last-child")?.textContent ?? "").length > n, early.length);
    expect(await page.locator("#stop").isEnabled()).toBe(true);
    expect(await page.locator("#status").textContent()).toBe("Answering…");
    expect(fake.concurrency.now).toBe(1);

    // The fake upstream got the chat with the chosen model and the user's message, through relay and daemon.
    const chat = fake.requests.find((r) => r.path === "/api/chat")!;
    expect(chat.json).toMatchObject({ model: "qwen2.5:0.5b", stream: true, messages: [{ role: "user", content: "Say something long" }] });

    const abortsBefore = fake.aborts.length;
    await page.locator("#stop").click();
    await fake.waitForAborts(abortsBefore + 1, 3_000);
    expect(fake.aborts.at(-1)!.path).toBe("/api/chat");
    await page.locator("#status", { hasText: "Stopped" }).waitFor();
    expect(await page.locator("#send").isEnabled()).toBe(true);
    const stopped = (await answer.textContent())!;
    expect(stopped).toMatch(/^tok0 tok1 tok2 /);
    expect(stopped).not.toContain("tok399");

    mkdirSync(join(CHAT_SHOT, ".."), { recursive: true });
    await page.screenshot({ path: CHAT_SHOT, fullPage: true });

    // Nothing but the relay's own origin was asked for (no CDN, no font, no analytics).
    const origin = new URL(relay.url).origin;
    expect(requested.length).toBeGreaterThanOrEqual(4);
    for (const u of requested) expect(new URL(u).origin).toBe(origin);
    await page.close();
  }, 60_000);

  test("an offline tunnel shows the relay's words for it", async () => {
    const { page } = await openChat();
    await connect(page, CLIENT_KEY, "carol");
    const err = page.locator("#error");
    await err.waitFor({ state: "visible" });
    expect((await err.textContent())!).toContain("The tunnel could not answer (HTTP 502, tunnel_offline): ");
    expect(await page.locator("#chat").isHidden()).toBe(true);
    await page.close();
  }, 30_000);

  test("a wrong key shows the relay's refusal in words", async () => {
    const { page } = await openChat();
    await connect(page, "not-the-key-0123456789");
    const err = page.locator("#error");
    await err.waitFor({ state: "visible" });
    const text = (await err.textContent())!;
    expect(text).toContain("The relay refused the key (HTTP 401");
    expect(text).toMatch(/unauthorized|invalid|unknown/i);
    expect(await page.locator("#chat").isHidden()).toBe(true);
    await page.close();
  }, 30_000);

  test("a request that waited in the daemon's queue says where it waited", async () => {
    // Another client holds the only upstream slot with a long stream.
    const hog = new AbortController();
    const held = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, {
      method: "POST",
      headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODELS[0], messages: [{ role: "user", content: "hog" }], stream: true }),
      signal: hog.signal,
    });
    expect(held.status).toBe(200);
    const { page } = await openChat();
    await connect(page);
    await page.locator("#chat").waitFor({ state: "visible" });
    await page.locator("#prompt").fill("queued");
    await page.locator("#send").click();
    await page.locator("#status", { hasText: "waiting for the model" }).waitFor();
    // The slot frees (Bun drops an unread body's connection on cancel; abort() alone leaves it open); the page's request
    // is served with the place it waited at.
    await held.body!.cancel().catch(() => {});
    hog.abort();
    await page.locator("#status", { hasText: "waited in the queue at position 1" }).waitFor();
    await page.waitForFunction(() => (document.querySelector("#messages li.assistant:last-child")?.textContent ?? "").includes("tok1 "));
    await page.locator("#stop").click();
    await page.locator("#status", { hasText: "Stopped" }).waitFor();
    await page.close();
  }, 30_000);

  test("Stop while the request waits in the daemon's queue: it leaves the queue (never reaches the upstream) and leaves no empty answer on the page", async () => {
    const hog = new AbortController();
    const held = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, {
      method: "POST",
      headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODELS[0], messages: [{ role: "user", content: "hog" }], stream: true }),
      signal: hog.signal,
    });
    expect(held.status).toBe(200);
    const { page } = await openChat();
    try {
      await connect(page);
      await page.locator("#chat").waitFor({ state: "visible" });
      await page.locator("#prompt").fill("never mind");
      await page.locator("#send").click();
      await page.locator("#status", { hasText: "waiting for the model" }).waitFor();
      await page.locator("#stop").click();
      await page.locator("#status", { hasText: "Stopped" }).waitFor();
      // The prompt stays; no assistant bubble was left empty.
      expect(await page.locator("#messages li.user").allTextContents()).toEqual(["never mind"]);
      expect(await page.locator("#messages li.assistant").count()).toBe(0);
      // The slot frees; the next prompt is answered, and the stopped one was never generated (it left the queue).
      await held.body!.cancel().catch(() => {});
      hog.abort();
      fake.options.tokens = 3;
      await page.locator("#prompt").fill("next");
      await page.locator("#send").click();
      await page.locator("#status", { hasText: "Done" }).waitFor();
      expect(await page.locator("#messages li.assistant").allTextContents()).toEqual(["tok0 tok1 tok2 "]);
      const lastAsked = fake.requests.filter((r) => r.path === "/api/chat").map((r) => (r.json as { messages: { content: string }[] }).messages.at(-1)!.content);
      expect(lastAsked).toContain("next");
      expect(lastAsked).not.toContain("never mind");
    } finally {
      fake.options.tokens = 400;
      await page.close();
    }
  }, 30_000);

  test("on a phone screen (390×844) the page fits without sideways scrolling and chats", async () => {
    fake.options.tokens = 5;
    fake.options.tokenDelayMs = 5;
    try {
      const { page } = await openChat({ width: 390, height: 844 });
      await connect(page);
      await page.locator("#chat").waitFor({ state: "visible" });
      await page.locator("#prompt").fill("hi");
      await page.locator("#send").click();
      await page.locator("#status", { hasText: "Done" }).waitFor();
      expect(await page.locator("#messages li.assistant").last().textContent()).toBe("tok0 tok1 tok2 tok3 tok4 ");
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      for (const id of ["#send", "#stop", "#prompt", "#model"]) {
        const box = (await page.locator(id).boundingBox())!;
        expect(box.x).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width).toBeLessThanOrEqual(390);
      }
      await page.screenshot({ path: join(ARTIFACTS, "chat-page-phone.png") });
      await page.close();
    } finally {
      fake.options.tokens = 400;
      fake.options.tokenDelayMs = 40;
    }
  }, 30_000);
});
