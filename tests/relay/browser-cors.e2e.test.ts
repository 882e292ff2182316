// A web app in real Chromium calls the relay on another origin (issue 25): preflight, streamed NDJSON measured in the page,
// Stop (AbortController) reaching the upstream and counted, SSE read in the page, readable 401/413/429/502 errors, sized
// and streamed request bodies; a page from a foreign origin is refused.
import { expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../helpers/dashboard-browser.ts";
import { requireTools } from "../helpers/requires.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { until } from "../helpers/until.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["chromium"]);

const MODEL = "llama3.2:1b";
const TOKENS = 12;
const DELAY_MS = 120;
const OFFLINE_KEY = "offline-client-key-0123456789";
/** The relay's max_body_bytes here: a page's larger body gets the relay's 413. */
const MAX_BODY = 65_536;

let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;
let appSite: Server<undefined>;
let foreignSite: Server<undefined>;
let browser: Browser;
let profile: string;

/** A static page: the web app's origin (allowed) or a stranger's (not); the calls are made by page.evaluate. */
const site = () => Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("<!doctype html><title>web app</title><p>app</p>", { headers: { "content-type": "text/html" } }) });

async function pageAt(s: Server<undefined>): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${s.port}/`);
  return page;
}

beforeAll(async () => {
  fake = await startFakeOllama({ models: [MODEL], tokens: TOKENS, tokenDelayMs: DELAY_MS });
  appSite = site();
  foreignSite = site();
  relay = await startRelayProc(
    relayToml().replace("max_body_bytes = 2000000000", `max_body_bytes = ${MAX_BODY}`) +
      `\n[[tunnels]]\nid = "offline"\nagent_token_sha256 = "${hashToken("offline-agent-token-0123456789")}"\nclient_key_sha256 = ["${hashToken(OFFLINE_KEY)}"]\n` +
      `\n[cors]\nallowed_origins = ["http://127.0.0.1:${appSite.port}"]\n`,
  );
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
  // The broker learns the models from its first health check.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    if (r.ok && ((await r.json()) as { models: unknown[] }).models.length) break;
    await Bun.sleep(100);
  }
  profile = mkdtempSync(join(tmpdir(), "c2l-chromium-"));
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  appSite?.stop(true);
  foreignSite?.stop(true);
  await daemon?.stop();
  await relay?.stop();
  await fake?.stop();
  cleanup(relay?.dir, daemon?.home, profile);
}, 30_000);

/** The relay's requests_total for one status. */
async function requestsWith(status: string): Promise<number> {
  const line = (await (await fetch(`${relay.url}/metrics`)).text()).split("\n").find((l) => l.startsWith(`cloudtolocalllm_relay_requests_total{status="${status}"}`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

/** The daemon's counted tokens of one kind for calls with no gateway key (key "-"). */
async function usageTokens(kind: string): Promise<number> {
  const line = (await (await fetch(`${daemon.urls.api}/metrics`)).text()).split("\n").find((l) => l.startsWith(`c2l_usage_tokens_total{key="-",model="${MODEL}",kind="${kind}"}`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

interface Streamed {
  lines: number;
  done: boolean;
  ttft: number;
  total: number;
  status: number;
}

describe("a web app on another origin calls the relay from Chromium (issue 25 item 1)", () => {
  test("preflight passes and NDJSON tokens arrive incrementally: first token long before the last", async () => {
    const page = await pageAt(appSite);
    const r: Streamed = await page.evaluate(
      async ({ url, key, model }) => {
        const t0 = performance.now();
        const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], stream: true }) });
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "", lines = 0, done = false, ttft = -1;
        for (;;) {
          const { value, done: end } = await reader.read();
          if (end) break;
          buf += value;
          for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
            const line = JSON.parse(buf.slice(0, i));
            buf = buf.slice(i + 1);
            if (ttft < 0) ttft = performance.now() - t0;
            lines++;
            if (line.done) done = true;
          }
        }
        return { lines, done, ttft, total: performance.now() - t0, status: res.status };
      },
      { url: `${relay.url}/t/${TUNNEL_ID}/api/chat`, key: CLIENT_KEY, model: MODEL },
    );
    expect(r.status).toBe(200);
    expect(r.done).toBe(true);
    expect(r.lines).toBe(TOKENS + 1);
    // Streamed, not buffered: the first token came while most of the answer was still being generated.
    expect(r.ttft).toBeLessThan(r.total / 2);
    // The agent strips the browser's Origin and Referer (the page's origin again) and the key before the broker: the
    // upstream never sees them.
    const seen = fake.requests.at(-1)!;
    expect(seen.path).toBe("/api/chat");
    expect(seen.headers.origin).toBeUndefined();
    expect(seen.headers.referer).toBeUndefined();
    expect(seen.headers.authorization).toBeUndefined();
    await page.close();
  }, 20_000);

  test("Stop: an AbortController abort in the page reaches the fake upstream, which was still generating (1000 tokens)", async () => {
    fake.options.tokens = 1000;
    try {
      const page = await pageAt(appSite);
      const before = fake.aborts.length;
      const got = await page.evaluate(
        async ({ url, key, model }) => {
          const ctl = new AbortController();
          const res = await fetch(url, { method: "POST", signal: ctl.signal, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], stream: true }) });
          const reader = res.body!.getReader();
          const first = await reader.read();
          ctl.abort();
          const after = await reader.read().then(() => "read on", (e: Error) => e.name);
          return { firstBytes: first.value?.length ?? 0, after };
        },
        { url: `${relay.url}/t/${TUNNEL_ID}/api/chat`, key: CLIENT_KEY, model: MODEL },
      );
      expect(got.firstBytes).toBeGreaterThan(0);
      expect(got.after).toBe("AbortError");
      // An abort is the upstream's connection closed before its answer ended: the abort reached it (no wall-clock bound: the suite runs beside other files).
      const aborts = await fake.waitForAborts(before + 1, 10_000);
      expect(aborts.at(-1)!.path).toBe("/api/chat");
      await page.close();
    } finally {
      fake.options.tokens = TOKENS;
    }
  }, 20_000);

  test("a wrong key and an offline tunnel: the page reads the status, the error code header and the message", async () => {
    const page = await pageAt(appSite);
    const call = (url: string, key: string) =>
      page.evaluate(
        async ({ url, key }) => {
          const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: "{}" });
          return { status: res.status, code: res.headers.get("x-c2l-error-code"), body: (await res.json()) as { error: string } };
        },
        { url, key },
      );
    const wrong = await call(`${relay.url}/t/${TUNNEL_ID}/api/chat`, "not-the-key");
    expect(wrong).toEqual({ status: 401, code: "unauthorized", body: { error: "unknown client key for this tunnel" } });
    const offline = await call(`${relay.url}/t/offline/api/chat`, OFFLINE_KEY);
    expect(offline.status).toBe(502);
    expect(offline.code).toBe("tunnel_offline");
    expect(offline.body.error).toContain('tunnel "offline" is not connected');
    await page.close();
  }, 20_000);

  test("a relay's own 429 is readable too: the page reads Retry-After and the error code (exposed headers)", async () => {
    // A relay of its own with one request per minute per tunnel: the second call is the relay's 429.
    const strict = await startRelayProc(relayToml().replace("requests_per_minute = 100000", "requests_per_minute = 1") + `\n[cors]\nallowed_origins = ["http://127.0.0.1:${appSite.port}"]\n`);
    try {
      const page = await pageAt(appSite);
      // The tunnel has no agent here: the first call is a 502 (and uses up the minute), the second the relay's 429.
      const limited = await page.evaluate(
        async ({ url, key }) => {
          const out = [];
          for (let i = 0; i < 2; i++) {
            const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
            out.push({ status: res.status, code: res.headers.get("x-c2l-error-code"), retry: res.headers.get("retry-after"), body: await res.json() });
          }
          return out;
        },
        { url: `${strict.url}/t/${TUNNEL_ID}/api/tags`, key: CLIENT_KEY },
      );
      expect(limited[0]!.code).toBe("tunnel_offline");
      expect(limited[1]!.status).toBe(429);
      expect(limited[1]!.code).toBe("rate_limited");
      expect(Number(limited[1]!.retry)).toBeGreaterThan(0);
      expect((limited[1]!.body as { error: string }).error).toContain("requests per minute");
      await page.close();
    } finally {
      await strict.stop();
      cleanup(strict.dir);
    }
  }, 20_000);

  test("a page from a foreign origin is refused by the browser: its fetch throws TypeError, the request never reaches the upstream", async () => {
    const page = await pageAt(foreignSite);
    const before = fake.requests.length;
    const outcome = await page.evaluate(
      async ({ url, key, model }) => {
        try {
          const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], stream: false }) });
          return `read ${res.status}`;
        } catch (e) {
          return (e as Error).name;
        }
      },
      { url: `${relay.url}/t/${TUNNEL_ID}/api/chat`, key: CLIENT_KEY, model: MODEL },
    );
    expect(outcome).toBe("TypeError");
    // What the browser was told: a 403 in the path's dialect, with no CORS headers.
    const pre = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/chat`, { method: "OPTIONS", headers: { origin: `http://127.0.0.1:${foreignSite.port}`, "access-control-request-method": "POST" } });
    expect(pre.status).toBe(403);
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    expect(pre.headers.get("x-c2l-error-code")).toBe("origin_not_allowed");
    expect(((await pre.json()) as { error: string }).error).toContain("[cors] allowed_origins");
    // The preflight was refused, so the POST itself was never sent.
    await Bun.sleep(200);
    expect(fake.requests.slice(before).filter((r) => r.path === "/api/chat")).toEqual([]);
    await page.close();
  }, 20_000);

  test("Stop before the answer began (stream:false, still generating) reaches the upstream, and the relay counts it as 499, not as the tunnel's 502", async () => {
    const page = await pageAt(appSite);
    const before = { aborts: fake.aborts.length, s499: await requestsWith("499"), s502: await requestsWith("502") };
    // A stream:false answer's head comes once the whole answer is generated (12 tokens, 120 ms apart): Stop comes first.
    const outcome = await page.evaluate(
      async ({ url, key, model }) => {
        const ctl = new AbortController();
        setTimeout(() => ctl.abort(), 400);
        try {
          const res = await fetch(url, { method: "POST", signal: ctl.signal, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], stream: false }) });
          return `read ${res.status}`;
        } catch (e) {
          return (e as Error).name;
        }
      },
      { url: `${relay.url}/t/${TUNNEL_ID}/api/chat`, key: CLIENT_KEY, model: MODEL },
    );
    expect(outcome).toBe("AbortError");
    // The GPU stops: the upstream sees its connection closed.
    expect((await fake.waitForAborts(before.aborts + 1, 5_000)).at(-1)!.path).toBe("/api/chat");
    // The relay counts the call once, as a client that left: a web app's Stop is not the tunnel failing.
    await until(async () => (await requestsWith("499")) === before.s499 + 1, 5_000, "requests_total{status=499} counts the Stop");
    expect(await requestsWith("502")).toBe(before.s502);
    await page.close();
  }, 20_000);

  test("SSE (/v1/chat/completions) read in the page: events arrive one by one; Stop mid-stream reaches the upstream and the tokens relayed so far are counted", async () => {
    fake.options.tokens = 1000;
    try {
      const page = await pageAt(appSite);
      const before = { aborts: fake.aborts.length, completion: await usageTokens("completion"), s200: await requestsWith("200") };
      const got = await page.evaluate(
        async ({ url, key, model }) => {
          const ctl = new AbortController();
          const res = await fetch(url, { method: "POST", signal: ctl.signal, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], stream: true }) });
          const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
          // Each read is noted with the events complete so far: incremental delivery shows as several reads before the third event.
          let buf = "";
          const seen: number[] = [];
          while ((seen.at(-1) ?? 0) < 5) {
            const r = await reader.read();
            if (r.done) break;
            buf += r.value;
            seen.push(buf.split("\n\n").length - 1);
          }
          ctl.abort();
          const after = await reader.read().then(() => "read on", (e: Error) => e.name);
          return { status: res.status, type: res.headers.get("content-type"), seen, first: buf.split("\n\n")[0], after };
        },
        { url: `${relay.url}/t/${TUNNEL_ID}/v1/chat/completions`, key: CLIENT_KEY, model: MODEL },
      );
      expect(got.status).toBe(200);
      expect(got.type).toStartWith("text/event-stream");
      expect(got.first).toContain('"content":"tok0 "');
      // Not buffered: the page read the events as they came, not all at once.
      expect(got.seen.length).toBeGreaterThanOrEqual(2);
      expect(got.after).toBe("AbortError");
      expect((await fake.waitForAborts(before.aborts + 1, 5_000)).at(-1)!.path).toBe("/v1/chat/completions");
      // "Aborting counts" (docs/gateway.md): the events relayed before Stop are counted, never free; the relay counts the call by its 200.
      await until(async () => (await usageTokens("completion")) >= before.completion + 5, 10_000, "the stopped stream's tokens are counted");
      expect(await requestsWith("200")).toBe(before.s200 + 1);
      await page.close();
    } finally {
      fake.options.tokens = TOKENS;
    }
  }, 30_000);

  test("request bodies from a page: a sized one is forwarded and one over max_body_bytes gets a readable 413; a streamed one (ReadableStream, duplex: half) Chromium sends only over HTTP/2, so never to the relay", async () => {
    const page = await pageAt(appSite);
    const failed: string[] = [];
    page.on("requestfailed", (r) => failed.push(r.failure()?.errorText ?? ""));
    const got = await page.evaluate(
      async ({ url, key, model, max }) => {
        const call = async (body: BodyInit, extra: RequestInit = {}) => {
          try {
            const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body, ...extra });
            return { status: res.status, code: res.headers.get("x-c2l-error-code"), body: await res.text() };
          } catch (e) {
            return { status: 0, code: (e as Error).name, body: "" };
          }
        };
        const chat = (content: string) => JSON.stringify({ model, messages: [{ role: "user", content }], stream: false });
        const streamed = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(chat("hi"))), c.close()) });
        return {
          sized: await call(new Blob([chat("hi")])),
          tooLarge: await call(chat("a".repeat(max))),
          streamed: await call(streamed, { duplex: "half" } as RequestInit),
        };
      },
      { url: `${relay.url}/t/${TUNNEL_ID}/api/chat`, key: CLIENT_KEY, model: MODEL, max: MAX_BODY },
    );
    expect(got.sized.status).toBe(200);
    expect(JSON.parse(got.sized.body).done).toBe(true);
    expect(got.tooLarge.status).toBe(413);
    expect(got.tooLarge.code).toBe("payload_too_large");
    expect(JSON.parse(got.tooLarge.body).error).toContain(`over this relay's limit of ${MAX_BODY} bytes`);
    // Chromium refuses a streamed upload over HTTP/1.1 itself (the relay speaks HTTP/1.1): the page sends a sized body.
    expect(got.streamed).toEqual({ status: 0, code: "TypeError", body: "" });
    expect(failed).toContain("net::ERR_ALPN_NEGOTIATION_FAILED");
    await page.close();
  }, 20_000);
});
