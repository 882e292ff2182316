// An upstream's request id, as the official clients bundled into a web page read it (an error's requestID): through the
// relay from another origin, and from the broker on a local page, in real Chromium (Access-Control-Expose-Headers).
import { expect } from "bun:test";
import { join } from "node:path";
import type { Server } from "bun";
import type { Browser } from "playwright-core";
import { CHROMIUM_ARGS, launchChromium } from "../helpers/dashboard-browser.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import type { SdkOutcome } from "./browser-sdks-page.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

const { afterAll, beforeAll, test } = requireTools(["chromium"]);

const MODEL = "m:1b";
const APP_HOST = "app.example";

let upstream: Server<undefined>;
let relay: RelayProc;
let daemon: DaemonProc;
let site: Server<undefined>;
let browser: Browser;

/**
 * A vLLM-like upstream (kind vllm: OpenAI's and Anthropic's APIs natively) refusing every generation with 400 as a cloud
 * API does, its request id in the header each API's SDK reads: OpenAI's `x-request-id`, Anthropic's `request-id`.
 */
function startUpstream(): Server<undefined> {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/health") return new Response("");
      if (path === "/metrics") return new Response("", { headers: { "content-type": "text/plain" } });
      if (path === "/v1/models") return Response.json({ object: "list", data: [{ id: MODEL, object: "model" }] });
      if (path === "/v1/chat/completions") return Response.json({ error: { message: "context too long", type: "invalid_request_error", code: null, param: null } }, { status: 400, headers: { "x-request-id": "req_openai_123" } });
      if (path === "/v1/messages") return Response.json({ type: "error", error: { type: "invalid_request_error", message: "context too long" } }, { status: 400, headers: { "request-id": "req_anthropic_456" } });
      return new Response("not found", { status: 404 });
    },
  });
}

beforeAll(async () => {
  const built = await Bun.build({ entrypoints: [join(import.meta.dir, "browser-sdks-page.ts")], target: "browser" });
  if (!built.success) throw new Error(built.logs.join("\n"));
  const bundle = await built.outputs[0]!.text();
  site = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) =>
      new URL(req.url).pathname === "/sdk.js"
        ? new Response(bundle, { headers: { "content-type": "text/javascript" } })
        : new Response('<!doctype html><title>web app</title><script src="/sdk.js"></script>', { headers: { "content-type": "text/html" } }),
  });
  upstream = startUpstream();
  relay = await startRelayProc(relayToml() + `\n[cors]\nallowed_origins = ["http://${APP_HOST}:${site.port}"]\n`);
  const url = `http://127.0.0.1:${upstream.port}`;
  daemon = await startAgentDaemon(daemonToml({ upstream: url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }).replace(`url = "${url}"\n`, `url = "${url}"\nkind = "vllm"\n`));
  await until(async () => {
    const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/v1/models`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    return (r.ok && ((await r.json()) as { data: unknown[] }).data.length > 0) || null;
  }, 10_000, "the broker to list the upstream's model");
  browser = await launchChromium([...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${APP_HOST} 127.0.0.1`]);
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  site?.stop(true);
  await daemon?.stop();
  await relay?.stop();
  upstream?.stop(true);
  cleanup(relay?.dir, daemon?.home);
}, 30_000);

test("openai and @anthropic-ai/sdk in a page read the upstream's request id of an error, through the relay on another origin and from the broker on a local page", async () => {
  const seen: Record<string, unknown>[] = [];
  for (const [host, target] of [[APP_HOST, `${relay.url}/t/${TUNNEL_ID}`], ["localhost", daemon.urls.broker!]] as const) {
    const page = await browser.newPage();
    await page.goto(`http://${host}:${site.port}/`);
    await page.waitForFunction(() => "sdkCall" in globalThis);
    for (const sdk of ["openai", "anthropic"] as const) {
      const r = await page.evaluate((c) => (globalThis as unknown as { sdkCall: (c: unknown) => Promise<SdkOutcome> }).sdkCall(c), { sdk, base: sdk === "openai" ? `${target}/v1` : target, key: CLIENT_KEY, model: MODEL });
      seen.push({ host, sdk, status: r.status, requestID: r.requestID });
    }
    await page.close();
  }
  expect(seen).toEqual([
    { host: APP_HOST, sdk: "openai", status: 400, requestID: "req_openai_123" },
    { host: APP_HOST, sdk: "anthropic", status: 400, requestID: "req_anthropic_456" },
    { host: "localhost", sdk: "openai", status: 400, requestID: "req_openai_123" },
    { host: "localhost", sdk: "anthropic", status: 400, requestID: "req_anthropic_456" },
  ]);
}, 30_000);
