// End to end: the relay's /chat page signs in with a real OIDC provider (oidc-provider, authorization code + PKCE as a
// public client), lists the signed-in subject's tunnel's models, streams, stops (upstream sees the abort), signs out.
import { expect } from "bun:test";
import type { Browser } from "playwright-core";
import { launchChromium } from "../helpers/dashboard-browser.ts";
import { requireTools } from "../helpers/requires.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { AUDIENCE, startProvider, type TestProvider } from "../auth/oidc-provider.ts";
import { cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { freePort } from "../../bench/lib/proc.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["chromium"]);

const CHAT_CLIENT = "c2l-chat";

let fake: FakeOllama;
let provider: TestProvider;
let relay: RelayProc;
let daemon: DaemonProc;
let browser: Browser;

/** A free loopback port: the provider must know the relay's redirect URI (its exact origin, for CORS) before it starts. */

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 400, tokenDelayMs: 40 });
  const port = freePort();
  provider = await startProvider({
    accessTokenTtlSec: 600,
    extraClients: [{ client_id: CHAT_CLIENT, application_type: "web", token_endpoint_auth_method: "none", grant_types: ["authorization_code"], response_types: ["code"], redirect_uris: [`http://127.0.0.1:${port}/chat`] }],
  });
  // Tunnel alice keeps its static agent token (the daemon's) and is owned by subject "alice" for JWT clients.
  const oidc = `[oidc]\nissuer = "${provider.issuer}"\naudience = "${AUDIENCE}"\nchat_client_id = "${CHAT_CLIENT}"\n`;
  relay = await startRelayProc(`${relayToml({ listen: `127.0.0.1:${port}`, extra: oidc })}subject = "alice"\n`);
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  await daemon?.stop();
  await relay?.stop();
  await provider?.close();
  await fake?.stop();
  cleanup(relay?.dir, daemon?.home);
}, 30_000);

describe("the chat page signs in with the relay's OIDC issuer (issue 25 item 3)", () => {
  test("sign in (code + PKCE), list models of my tunnel through /me/, stream, Stop reaches upstream, sign out", async () => {
    const page = await browser.newPage();
    // Every request, and those made while the relay's page is shown (the provider's own login page may load what it likes).
    const requested: string[] = [];
    const fromChat: string[] = [];
    let onChat = true;
    page.on("request", (r) => {
      requested.push(r.url());
      if (r.url().startsWith(`${relay.url}/chat?`)) onChat = true; // the issuer's redirect back, with the code
      if (onChat) fromChat.push(r.url());
    });
    await page.goto(`${relay.url}/chat`);
    expect(await page.locator("#key-label").isVisible()).toBe(true);
    onChat = false;
    await page.locator("#sign-in").click();

    // The provider's own login and consent pages (oidc-provider's dev interactions).
    await page.waitForURL((u) => u.origin === provider.issuer);
    await page.locator('input[name="login"]').fill("alice");
    await page.locator('input[name="password"]').fill("any-password");
    await page.locator('button[type="submit"]').click();
    await page.locator('button[type="submit"]', { hasText: /continue/i }).click();

    // Back on /chat: the code was traded for a token (the URL cleaned), the key field gives way to the account.
    await page.waitForURL(`${relay.url}/chat`);
    await page.locator("#who", { hasText: "Signed in as alice" }).waitFor();
    expect(await page.locator("#key-label").isHidden()).toBe(true);
    expect(await page.locator("#error").isHidden()).toBe(true);
    const authorize = new URL(requested.find((u) => u.startsWith(`${provider.issuer}/auth`))!);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("client_id")).toBe(CHAT_CLIENT);

    // No tunnel id: signed in, the page calls /me/, which the relay routes to the subject's own tunnel.
    expect(await page.locator("#tunnel-id").inputValue()).toBe("");
    await page.locator("#connect-button").click();
    await page.locator("#chat").waitFor({ state: "visible" });
    expect(await page.locator("#model option").allTextContents()).toEqual(["llama3.2:1b"]);

    await page.locator("#prompt").fill("hello");
    await page.locator("#send").click();
    await page.waitForFunction(() => (document.querySelector("#messages li.assistant:last-child")?.textContent ?? "").includes("tok2 "));
    const before = fake.aborts.length;
    await page.locator("#stop").click();
    await fake.waitForAborts(before + 1, 3_000);
    expect(requested.filter((u) => u.startsWith(`${relay.url}/me/api/`)).map((u) => new URL(u).pathname)).toEqual(["/me/api/tags", "/me/api/chat"]);
    await page.locator("#status", { hasText: "Stopped" }).waitFor();

    await page.locator("#sign-out").click();
    await page.locator("#status", { hasText: "Signed out" }).waitFor();
    expect(await page.locator("#chat").isHidden()).toBe(true);
    expect(await page.locator("#key-label").isVisible()).toBe(true);
    expect(await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.includes("token")))).toEqual([]);

    // The chat page asked only the relay and the issuer (discovery, token endpoint) for anything.
    expect(fromChat.some((u) => u.startsWith(`${provider.issuer}/token`))).toBe(true);
    for (const u of fromChat) expect([new URL(relay.url).origin, provider.issuer]).toContain(new URL(u).origin);
    await page.close();
  }, 60_000);
});
