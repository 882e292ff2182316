// Embeddings against a key's daily token budget, through a real daemon and the official ollama and openai clients: each
// holds its prompt (estimated from its size) while in flight, so parallel calls cannot embed past the budget, and the
// hold is given back for the upstream's own count when the answer ends.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { apiToken, createKey, removeHome, startDaemon, TEST_DAEMON_TOML, untilCounted, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

/** What the upstream says each embedding read: less than the broker's estimate (4 bytes a token), as a tokenizer does. */
const COUNTED = 300;
let upstream: ReturnType<typeof Bun.serve>;
/** Embeddings the upstream holds until the test lets them answer. */
let held: (() => void)[] = [];
let d: DaemonProc;
let token: string;
const keys: Record<string, string> = {};

beforeAll(async () => {
  // An Ollama-like upstream whose embeddings wait: every call the broker lets through is in flight at once.
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/version") return Response.json({ version: "0.12.0" });
      if (path === "/api/tags") return Response.json({ models: [{ name: "e:latest", model: "e:latest", size: 1, digest: "x", modified_at: "2026-01-01T00:00:00Z", details: {} }] });
      if (path === "/api/ps") return Response.json({ models: [] });
      const body = (await req.json()) as { model: string };
      await new Promise<void>((resolve) => held.push(resolve));
      if (path === "/api/embed") return Response.json({ model: body.model, embeddings: [[0.1, 0.2]], prompt_eval_count: COUNTED });
      if (path === "/v1/embeddings") return Response.json({ object: "list", data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2] }], model: body.model, usage: { prompt_tokens: COUNTED, total_tokens: COUNTED } });
      return new Response("404 page not found", { status: 404 });
    },
  });
  d = await startDaemon({ config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:${upstream.port}"\n`, waitFor: ["api", "broker"] });
  token = await apiToken(d);
  for (const name of ["ol", "oa", "probe"]) keys[name] = createKey(d, name, "--tokens-per-day", "1000");
  await until(async () => (await fetch(`${d.urls.broker}/api/version`, { headers: { "x-api-key": keys.probe! } })).status === 200, 5000, "the daemon to see the keys");
}, 30_000);

afterAll(async () => {
  await d?.stop();
  upstream?.stop(true);
  if (d) removeHome(d.home);
});

/** An input of about 1100 estimated tokens: more than the 1000-token budget leaves for a second call in flight. */
const INPUT = "lorem ipsum ".repeat(370);

async function outcome(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    const x = e as { status_code?: number; status?: number };
    return x.status_code ?? x.status ?? 0;
  }
}

/** Five calls at once: once each is either refused or waiting at the upstream, the upstream answers them all. */
async function fiveAtOnce(call: () => Promise<unknown>): Promise<number[]> {
  held = [];
  let refused = 0;
  const all = Array.from({ length: 5 }, () => outcome(call()).then((s) => (s !== 200 && refused++, s)));
  await until(() => refused + held.length === 5, 10_000, "every call refused or at the upstream");
  for (const r of held) r();
  return (await Promise.all(all)).sort();
}

test("ollama client: five embeddings at once on a 1000-token budget, each of ~1100 tokens: one runs, four get 429; the upstream's count replaces the hold", async () => {
  const ollama = new Ollama({ host: d.urls.broker!, headers: { Authorization: `Bearer ${keys.ol}` } });
  expect(await fiveAtOnce(() => ollama.embed({ model: "e", input: INPUT }))).toEqual([200, 429, 429, 429, 429]);
  // Counted by what the upstream said it read, and the hold given back: the next call is let in (300 used + none held).
  expect(await untilCounted(d, token, "ol", 1)).toMatchObject({ requests: 1, prompt_tokens: COUNTED, completion_tokens: 0 });
  held = [];
  const next = outcome(ollama.embed({ model: "e", input: INPUT }));
  await until(() => held.length === 1, 5000, "the next embedding at the upstream");
  held[0]!();
  expect(await next).toBe(200);
});

test("openai client: the same on /v1/embeddings; a refused call names what the calls in flight hold", async () => {
  const oa = new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey: keys.oa!, maxRetries: 0 });
  let message = "";
  const call = () => oa.embeddings.create({ model: "e", input: INPUT }).catch((e: Error) => Promise.reject(((message = e.message), e)));
  expect(await fiveAtOnce(call)).toEqual([200, 429, 429, 429, 429]);
  expect(message).toMatch(/^429 the API key "oa" has its 1000 tokens for today used or held by requests in flight \(0 used, \d+ held\)/);
  expect(await untilCounted(d, token, "oa", 1)).toMatchObject({ requests: 1, prompt_tokens: COUNTED, completion_tokens: 0 });
  // Nothing in flight now: the next one is let in (300 used) and waits at the upstream; answer it.
  held = [];
  const next = outcome(call());
  await until(() => held.length === 1, 5000, "the next embedding at the upstream");
  held[0]!();
  expect(await next).toBe(200);
  expect(await untilCounted(d, token, "oa", 2)).toMatchObject({ prompt_tokens: 2 * COUNTED });
});
