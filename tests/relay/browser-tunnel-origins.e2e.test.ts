// A tunnel's own allowed_origins in real Chromium, on a two-node relay cluster (Debian's redis-server, a real daemon):
// a page on an origin [cors] allows but the tunnel does not reaches it by no route (/t/ID/, /me/, /ollama/), on the
// node that holds its agent or across the hop, and never runs a call on its upstream; the tunnel's own origin does.
import { expect } from "bun:test";
import type { Server } from "bun";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../helpers/dashboard-browser.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { until } from "../helpers/until.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { cleanup, daemonToml, startAgentDaemon } from "../tunnel/helpers.ts";
import { startCluster, type TestCluster } from "./cluster-helpers.ts";
import { startTestIssuer, type TestIssuer } from "./test-issuer.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["chromium", "redis-server"]);

const ID = "o-alice";
const SUBJECT = "sub-o-alice";
const AGENT = "agent-token-o-alice-0123456789";
const KEY = "client-key-o-alice-0123456789";
const MODEL = "alice:1b";

let redis: TestRedis;
let issuer: TestIssuer;
let cluster: TestCluster;
let fake: FakeOllama;
let daemon: DaemonProc;
let appSite: Server<undefined>;
let otherSite: Server<undefined>;
let browser: Browser;
let jwt: string;

/** A static page; the calls are made by page.evaluate. */
const site = () => Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("<!doctype html><title>web app</title>", { headers: { "content-type": "text/html" } }) });
const originOf = (s: Server<undefined>) => `http://127.0.0.1:${s.port}`;

beforeAll(async () => {
  redis = await startRedis();
  issuer = await startTestIssuer();
  appSite = site();
  otherSite = site();
  // Both origins are the relay's web apps ([cors]); the tunnel's operator narrowed it to the first.
  const extra =
    `\n[[tunnels]]\nid = "${ID}"\nagent_token_sha256 = "${hashToken(AGENT)}"\nclient_key_sha256 = ["${hashToken(KEY)}"]\nsubject = "${SUBJECT}"\nallowed_origins = ["${originOf(appSite)}"]\n` +
    `\n[cors]\nallowed_origins = ["${originOf(appSite)}", "${originOf(otherSite)}"]\n\n${issuer.oidcToml}`;
  cluster = await startCluster({ redisUrl: redis.url, size: 2, extra });
  fake = await startFakeOllama({ models: [MODEL], tokens: 2 });
  // The agent on node 1: a call to node 0 crosses the hop.
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${cluster.nodes[1]!.url.replace(/^http/, "ws")}/agent` }), { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT });
  jwt = await issuer.sign(SUBJECT);
  // Both nodes reach the tunnel (node 0 once it learns the owner from Redis) and its models are known.
  for (const node of cluster.nodes)
    await until(async () => {
      const r = await fetch(`${node.url}/me/api/tags`, { headers: { authorization: `Bearer ${jwt}` } });
      return r.ok && JSON.stringify(await r.json()).includes(MODEL);
    }, 20_000, `the tunnel through ${node.id}`);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  appSite?.stop(true);
  otherSite?.stop(true);
  await daemon?.stop();
  await cluster?.stop();
  await fake?.stop();
  issuer?.stop();
  await redis?.stop();
  cleanup(daemon?.home);
}, 30_000);

async function pageAt(s: Server<undefined>): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${originOf(s)}/`);
  return page;
}

/** Every route to the tunnel on every node, with its credential: a client key on /t/ID/, the JWT on /me/ and /ollama/. */
const routes = () =>
  cluster.nodes.flatMap((n) => [
    { url: `${n.url}/t/${ID}`, token: KEY },
    { url: `${n.url}/me`, token: jwt },
    { url: `${n.url}/ollama`, token: jwt },
  ]);

/** From the page: a GET of the models and a streamed chat POST; what the page could read of each ("blocked" when fetch threw). */
async function callsFrom(page: Page, base: string, token: string): Promise<{ tags: string; chat: string }> {
  return page.evaluate(
    async ({ base, token, model }) => {
      const read = async (p: Promise<Response>) => {
        try {
          const r = await p;
          return `${r.status} ${await r.text()}`;
        } catch {
          return "blocked";
        }
      };
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      return {
        tags: await read(fetch(`${base}/api/tags`, { headers })),
        chat: await read(fetch(`${base}/api/chat`, { method: "POST", headers, body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], stream: true }) })),
      };
    },
    { base, token, model: MODEL },
  );
}

describe("a tunnel's own allowed_origins hold on every route to it, on either node", () => {
  test("a page on an origin [cors] allows but the tunnel does not reads nothing by /t/ID/, /me/ or /ollama/, and no call reaches the upstream", async () => {
    const page = await pageAt(otherSite);
    const before = fake.requests.length;
    for (const r of routes()) expect({ url: r.url, ...(await callsFrom(page, r.url, r.token)) }).toEqual({ url: r.url, tags: "blocked", chat: "blocked" });
    // Refused before the tunnel: not a models list, not a chat ran on the upstream (the GPU) behind the page's back.
    expect(fake.requests.length).toBe(before);
    await page.close();
  }, 60_000);

  test("the tunnel's own origin reads it by every route, on either node", async () => {
    const page = await pageAt(appSite);
    for (const r of routes()) {
      const got = await callsFrom(page, r.url, r.token);
      expect(got.tags).toStartWith("200 ");
      expect(got.tags).toContain(MODEL);
      expect(got.chat).toStartWith("200 ");
      expect(got.chat).toContain('"done":true');
    }
    await page.close();
  }, 60_000);

  test("the actual call from such an origin (its /me/ preflight passes on [cors]: it has no token) is 403 origin_not_allowed without CORS headers", async () => {
    for (const node of cluster.nodes) {
      const pre = await fetch(`${node.url}/me/api/chat`, { method: "OPTIONS", headers: { origin: originOf(otherSite), "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } });
      expect(pre.status).toBe(204);
      for (const path of ["/me/api/chat", "/ollama/api/chat", `/t/${ID}/api/chat`]) {
        const res = await fetch(`${node.url}${path}`, {
          method: "POST",
          headers: { origin: originOf(otherSite), authorization: `Bearer ${path.startsWith("/t/") ? KEY : jwt}`, "content-type": "application/json" },
          body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }] }),
        });
        expect({ path, status: res.status, code: res.headers.get("x-c2l-error-code"), acao: res.headers.get("access-control-allow-origin") }).toEqual({ path, status: 403, code: "origin_not_allowed", acao: null });
        expect(((await res.json()) as { error: string }).error).toContain(`tunnel "${ID}"'s allowed_origins`);
      }
    }
  }, 30_000);

  test("no one learns which tunnels exist: a preflight, or a call without a valid key, is answered the same for the tunnel with its own list and for an id no tunnel has", async () => {
    const ids = [ID, "no-such-tunnel"];
    /** An answer as a client sees it, less what differs between any two answers (Date). */
    const seen = async (r: Response) => ({ status: r.status, headers: [...r.headers].filter(([k]) => k !== "date"), body: await r.text() });
    for (const node of cluster.nodes) {
      // From a script (any Origin can be sent): the preflight, and a call with a made-up key and with none.
      const preflights = await Promise.all(ids.map(async (id) => seen(await fetch(`${node.url}/t/${id}/api/chat`, { method: "OPTIONS", headers: { origin: originOf(otherSite), "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } }))));
      expect(preflights[0]!.status).toBe(204);
      expect(preflights[1]).toEqual(preflights[0]!);
      for (const auth of [{ authorization: "Bearer made-up-key-0123456789" }, {}] as Record<string, string>[]) {
        const calls = await Promise.all(ids.map(async (id) => seen(await fetch(`${node.url}/t/${id}/api/chat`, { method: "POST", headers: { origin: originOf(otherSite), "content-type": "application/json", ...auth }, body: "{}" }))));
        expect(calls[0]!.status).toBe(401);
        expect(calls[1]).toEqual(calls[0]!);
      }
    }
    // From a page in Chromium on that origin: both read the same 401 (before, the tunnel's preflight was refused, and
    // the page told the tunnel with a list of its own from an id no tunnel has).
    const page = await pageAt(otherSite);
    for (const node of cluster.nodes) {
      const [tunnel, none] = await Promise.all(ids.map((id) => callsFrom(page, `${node.url}/t/${id}`, "made-up-key-0123456789")));
      expect(tunnel!.tags).toStartWith("401 ");
      expect(tunnel).toEqual(none!);
    }
    await page.close();
  }, 60_000);
});
