// The official JS clients (openai, ollama/browser, @anthropic-ai/sdk) bundled into a web page in real Chromium, calling
// the relay from another origin and the broker from a local page: streamed piece by piece, Stop reaching the upstream,
// errors readable with their code; a foreign page's simple POST runs nothing.
import { expect } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import type { Browser, Page } from "playwright-core";
import { requireTools } from "../helpers/requires.ts";
import { CHROMIUM_ARGS, launchChromium } from "../helpers/dashboard-browser.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { metric } from "../tunnel/resume-helpers.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import type { SdkOutcome } from "./browser-sdks-page.ts";
import { startTestIssuer, type TestIssuer } from "./test-issuer.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["chromium"]);

const MODEL = "llama3.2:1b";
const TOKENS = 10;
const DELAY_MS = 100;
/** Pages on names Chromium resolves to 127.0.0.1: the web app's origin and a stranger's. */
const APP_HOST = "app.example";
const EVIL_HOST = "evil.example";

let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;
let site: Server<undefined>;
let browser: Browser;
let bundle: string;
let issuer: TestIssuer;

beforeAll(async () => {
  const built = await Bun.build({ entrypoints: [join(import.meta.dir, "browser-sdks-page.ts")], target: "browser" });
  if (!built.success) throw new Error(built.logs.join("\n"));
  bundle = await built.outputs[0]!.text();
  site = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) =>
      new URL(req.url).pathname === "/sdk.js"
        ? new Response(bundle, { headers: { "content-type": "text/javascript" } })
        : new Response('<!doctype html><title>web app</title><script src="/sdk.js"></script>', { headers: { "content-type": "text/html" } }),
  });
  fake = await startFakeOllama({ models: [MODEL], tokens: TOKENS, tokenDelayMs: DELAY_MS });
  // Tunnel alice is also owned by the issuer's subject "alice": a signed-in web app calls /me/ and /ollama/.
  issuer = await startTestIssuer();
  relay = await startRelayProc(relayToml({ extra: issuer.oidcToml }) + `subject = "alice"\n\n[cors]\nallowed_origins = ["http://${APP_HOST}:${site.port}"]\n`);
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    if (r.ok && ((await r.json()) as { models: unknown[] }).models.length) break;
    await Bun.sleep(100);
  }
  browser = await launchChromium([...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${APP_HOST} 127.0.0.1, MAP ${EVIL_HOST} 127.0.0.1`]);
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  site?.stop(true);
  await daemon?.stop();
  await relay?.stop();
  await fake?.stop();
  issuer?.stop();
  cleanup(relay?.dir, daemon?.home);
}, 30_000);

async function pageOn(host: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`http://${host}:${site.port}/`);
  await page.waitForFunction(() => "sdkCall" in globalThis);
  return page;
}

type Sdk = "openai" | "ollama" | "anthropic";
const call = (page: Page, c: { sdk: Sdk; base: string; key: string; abortAfter?: number }): Promise<SdkOutcome> =>
  page.evaluate((c) => (globalThis as unknown as { sdkCall: (c: unknown) => Promise<SdkOutcome> }).sdkCall(c), { ...c, model: MODEL });

/** Where each client points for a target: the relay's tunnel, or the broker itself. */
const bases = (target: string): Record<Sdk, string> => ({ openai: `${target}/v1`, ollama: target, anthropic: target });

describe("the official JS clients in a web page", () => {
  for (const sdk of ["openai", "ollama", "anthropic"] as const) {
    test(`${sdk}: streams piece by piece from the relay on another origin, and from the broker on a local page`, async () => {
      for (const [host, target] of [[APP_HOST, `${relay.url}/t/${TUNNEL_ID}`], ["localhost", daemon.urls.broker!]] as const) {
        const page = await pageOn(host);
        const r = await call(page, { sdk, base: bases(target)[sdk], key: CLIENT_KEY });
        expect({ target, error: r.error }).toEqual({ target, error: null });
        expect(r.text.length).toBeGreaterThan(0);
        expect(r.pieces.length).toBeGreaterThanOrEqual(TOKENS);
        // Streamed, not buffered: the first piece came long before the last.
        expect(r.pieces[0]!).toBeLessThan(r.pieces.at(-1)! - (TOKENS / 2) * DELAY_MS);
        // Which page called stays with the broker: neither its Origin nor its Referer reaches the upstream.
        const seen = fake.requests.at(-1)!.headers;
        expect({ target, origin: seen.origin, referer: seen.referer }).toEqual({ target, origin: undefined, referer: undefined });
        await page.close();
      }
    }, 30_000);
  }
});

test("a signed-in web app: its access token opens the user's own tunnel through /me/ (openai, anthropic) and /ollama (ollama/browser)", async () => {
  const token = await issuer.sign("alice");
  const page = await pageOn(APP_HOST);
  const base: Record<Sdk, string> = { openai: `${relay.url}/me/v1`, ollama: `${relay.url}/ollama`, anthropic: `${relay.url}/me` };
  for (const sdk of ["openai", "ollama", "anthropic"] as const) {
    const r = await call(page, { sdk, base: base[sdk], key: token });
    expect({ sdk, error: r.error }).toEqual({ sdk, error: null });
    expect(r.pieces.length).toBeGreaterThanOrEqual(TOKENS);
  }
  await page.close();
}, 30_000);

describe("Stop and errors, as the clients in the page see them", () => {
  for (const sdk of ["openai", "ollama", "anthropic"] as const) {
    test(`${sdk}: an abort after two pieces reaches the upstream, through the relay and from the broker`, async () => {
      fake.options.tokens = 1000;
      try {
        for (const [host, target] of [[APP_HOST, `${relay.url}/t/${TUNNEL_ID}`], ["localhost", daemon.urls.broker!]] as const) {
          const page = await pageOn(host);
          const before = fake.aborts.length;
          const r = await call(page, { sdk, base: bases(target)[sdk], key: CLIENT_KEY, abortAfter: 2 });
          expect(r.pieces.length).toBeLessThan(10);
          // openai's stream ends its loop quietly on an abort; the others throw an AbortError.
          if (sdk !== "openai") expect(r.errorName).toMatch(/Abort/);
          await fake.waitForAborts(before + 1, 2_000);
          // Counted where it was cancelled: the daemon's record of the request says the client closed it (through
          // the relay: the tunnel's stream reset), and the relay holds no stream for it any more.
          const token = await apiToken(daemon);
          await until(async () => {
            const r = (await (await fetch(`${daemon.urls.api}/api/v1/requests`, { headers: { authorization: `Bearer ${token}` } })).json()) as { requests: { id: string; error: string | null; source: string }[] };
            const last = r.requests.at(0);
            return (last?.source === (host === APP_HOST ? "tunnel" : "local") && last.error?.includes("client closed")) || null;
          }, 3_000, "the daemon to record the cancelled request");
          await until(async () => (await metric(relay.url, "cloudtolocalllm_relay_streams_active")) === 0 || null, 3_000, "the relay to let the stream go");
          await page.close();
        }
      } finally {
        fake.options.tokens = TOKENS;
      }
    }, 30_000);

    test(`${sdk}: a refusal reaches the client with its status, message and x-c2l-error-code (relay: wrong key; broker: the upstream's unknown model)`, async () => {
      const page = await pageOn(APP_HOST);
      const refused = await call(page, { sdk, base: bases(`${relay.url}/t/${TUNNEL_ID}`)[sdk], key: "not-the-key" });
      expect(refused.status).toBe(401);
      expect(refused.error).toContain("unknown client key for this tunnel");
      if (sdk !== "ollama") expect(refused.code).toBe("unauthorized"); // ollama's ResponseError carries no headers
      await page.close();
      const local = await pageOn("localhost");
      const missing = await local.evaluate((c) => (globalThis as unknown as { sdkCall: (c: unknown) => Promise<SdkOutcome> }).sdkCall(c), { sdk, base: bases(daemon.urls.broker!)[sdk], key: CLIENT_KEY, model: "no-such-model:1b" });
      expect(missing.status).toBe(404);
      expect(missing.error).toContain("no-such-model");
      // The upstream's own 404, passed through as it sent it (without our code: docs/errors.md).
      await local.close();
    }, 30_000);
  }
});

test("a local page reads the broker's own error code and Retry-After (Access-Control-Expose-Headers), as it does the relay's", async () => {
  const page = await pageOn("localhost");
  const seen = await page.evaluate(async (url) => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    return { status: res.status, code: res.headers.get("x-c2l-error-code"), body: await res.text() };
  }, `${daemon.urls.broker}/api/chat`);
  expect(seen.status).toBe(400);
  expect(seen.body).toContain("error");
  expect(seen.code).toBe("bad_request");
  const raw = await fetch(`${daemon.urls.broker}/api/chat`, { method: "POST", headers: { origin: "http://localhost:3000" }, body: "{not json" });
  expect(raw.headers.get("access-control-expose-headers")).toBe("x-c2l-error-code, Retry-After, X-Should-Retry, X-Queue-Position, Server-Timing, X-Request-Id, Request-Id");
  await page.close();
}, 30_000);

test("a foreign website's simple POST (text/plain, no preflight) runs no generation, on the broker or through the relay, and reads nothing", async () => {
  const page = await pageOn(EVIL_HOST);
  const before = fake.requests.length;
  const body = JSON.stringify({ model: MODEL, prompt: "spend the GPU", stream: false });
  const outcomes = await page.evaluate(
    async ({ urls, body }) =>
      Promise.all(
        urls.map(async (url) => {
          const cors = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body }).then((r) => `read ${r.status}`, (e: Error) => e.name);
          const opaque = await fetch(url, { method: "POST", mode: "no-cors", body }).then((r) => r.type);
          return { cors, opaque };
        }),
      ),
    { urls: [`${daemon.urls.broker}/api/generate`, `${relay.url}/t/${TUNNEL_ID}/api/generate`], body },
  );
  expect(outcomes).toEqual([
    { cors: "TypeError", opaque: "opaque" },
    { cors: "TypeError", opaque: "opaque" },
  ]);
  await Bun.sleep(300);
  expect(fake.requests.slice(before).map((r) => r.path)).not.toContain("/api/generate");
  await page.close();
}, 30_000);

test("Chromium's own guards in front of the broker: a file:// page (Origin null) is refused, a public page's call to 127.0.0.1 never arrives", async () => {
  // A file:// page's Origin is "null", as is any website's sandboxed iframe: the broker refuses it unless listed.
  const dir = mkdtempSync(join(tmpdir(), "browser-client-file-"));
  writeFileSync(join(dir, "page.html"), "<!doctype html><p>local file");
  const file = await browser.newPage();
  await file.goto(`file://${join(dir, "page.html")}`);
  const fromFile = await file.evaluate((url) => fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }).then((r) => `read ${r.status}`, (e: Error) => e.name), `${daemon.urls.broker}/api/chat`);
  expect(fromFile).toBe("TypeError");
  await file.close();
  rmSync(dir, { recursive: true, force: true });
  // A page Chromium takes for a public one (an http:// site on the internet): it does not even send a preflight
  // (Local Network Access wants a secure context and the user's permission), so nothing reaches the broker.
  const publicBrowser = await launchChromium([...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${EVIL_HOST} 127.0.0.1`, `--ip-address-space-overrides=127.0.0.1:${site.port}=public`]);
  try {
    const page = await publicBrowser.newPage();
    await page.goto(`http://${EVIL_HOST}:${site.port}/`);
    const before = fake.requests.length;
    const got = await page.evaluate((url) => fetch(url, { method: "POST", mode: "no-cors", body: '{"model":"x","prompt":"y"}' }).then((r) => r.type, (e: Error) => e.name), `${daemon.urls.broker}/api/generate`);
    expect(got).toBe("TypeError");
    await Bun.sleep(200);
    expect(fake.requests.slice(before).map((r) => r.path)).not.toContain("/api/generate");
  } finally {
    await publicBrowser.close();
  }
}, 30_000);

test("a website whose name resolves to 127.0.0.1 (DNS rebinding) is refused by the broker: its Host is not local", async () => {
  const port = new URL(daemon.urls.broker!).port;
  const page = await browser.newPage();
  const before = fake.requests.length;
  // The attacker's page is now served "by" the broker's port under the attacker's name: same origin, no CORS.
  const res = await page.goto(`http://${EVIL_HOST}:${port}/api/tags`);
  expect(res!.status()).toBe(403);
  expect(res!.headers()["x-c2l-error-code"]).toBe("host_not_allowed");
  const post = await page.evaluate(async () => (await fetch("/api/generate", { method: "POST", body: '{"model":"llama3.2:1b","prompt":"x","stream":false}' })).status);
  expect(post).toBe(403);
  expect(fake.requests.slice(before).map((r) => r.path)).not.toContain("/api/generate");
  await page.close();
}, 30_000);

test("credentials mode: a page that sends cookies (credentials: include) is refused by the browser, as the relay never allows credentials; the SDKs do not ask for it", async () => {
  const page = await pageOn(APP_HOST);
  const got = await page.evaluate(
    (url) => fetch(url, { credentials: "include", headers: { authorization: "Bearer x" } }).then((r) => `read ${r.status}`, (e: Error) => e.name),
    `${relay.url}/t/${TUNNEL_ID}/api/tags`,
  );
  expect(got).toBe("TypeError");
  const plain = await page.evaluate((c) => fetch(c.url, { headers: { authorization: `Bearer ${c.key}` } }).then((r) => r.status), { url: `${relay.url}/t/${TUNNEL_ID}/api/tags`, key: CLIENT_KEY });
  expect(plain).toBe(200);
  await page.close();
}, 30_000);
