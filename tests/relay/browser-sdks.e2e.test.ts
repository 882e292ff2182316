// The official JS clients (openai, ollama/browser, @anthropic-ai/sdk) bundled into a web page in real Chromium, calling
// the relay from another origin and the broker from a local page: streamed piece by piece, Stop reaching the upstream,
// errors readable with their code; a foreign page's simple POST runs nothing.
import { expect } from "bun:test";
import { join } from "node:path";
import type { Server } from "bun";
import { chromium, type Browser, type Page } from "playwright-core";
import { requireTools } from "../helpers/requires.ts";
import { CHROMIUM_ARGS } from "../helpers/dashboard-browser.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import type { SdkOutcome } from "./browser-sdks-page.ts";

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
  relay = await startRelayProc(relayToml() + `\n[cors]\nallowed_origins = ["http://${APP_HOST}:${site.port}"]\n`);
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    if (r.ok && ((await r.json()) as { models: unknown[] }).models.length) break;
    await Bun.sleep(100);
  }
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${APP_HOST} 127.0.0.1, MAP ${EVIL_HOST} 127.0.0.1`] });
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  site?.stop(true);
  await daemon?.stop();
  await relay?.stop();
  await fake?.stop();
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
      for (const [host, target] of [[APP_HOST, `${relay.url}/t/${TUNNEL_ID}`], ["127.0.0.1", daemon.urls.broker!]] as const) {
        const page = await pageOn(host);
        const r = await call(page, { sdk, base: bases(target)[sdk], key: CLIENT_KEY });
        expect({ target, error: r.error }).toEqual({ target, error: null });
        expect(r.text.length).toBeGreaterThan(0);
        expect(r.pieces.length).toBeGreaterThanOrEqual(TOKENS);
        // Streamed, not buffered: the first piece came long before the last.
        expect(r.pieces[0]!).toBeLessThan(r.pieces.at(-1)! - (TOKENS / 2) * DELAY_MS);
        await page.close();
      }
    }, 30_000);
  }
});
