// The gateway's promises through the relay and the tunnel, beside the same calls on this machine: who the broker sees
// as the caller, the fair queue between the two ways in, keys' limits and budgets shared across them, exact usage.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, createKey, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { metric, pauseRelayPastTolerance } from "./resume-helpers.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";

let fake: FakeOllama;
let relay: RelayProc;
let d: DaemonProc;
let token: string;
let local: string;
let remote: string;
let toml: string;

beforeAll(async () => {
  // Every answer takes the fake upstream a fixed time (3 tokens, 70 ms each); one at a time (max_parallel = 1).
  fake = await startFakeOllama({ models: ["m:1b", "other:7b"], loaded: ["m:1b", "other:7b"], tokens: 3, tokenDelayMs: 70 });
  relay = await startRelayProc(relayToml({ extra: 'resume_window = "20s"' }));
  // The agent holds an answer whose relay connection was lost for 4 s (the last test lets it run out).
  toml = daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: 'resume_window = "4s"' })
    .replace(`url = "${fake.url}"\n`, `url = "${fake.url}"\nmax_parallel = 1\n`)
    .replace("[proxy]\n", "[proxy]\nqueue_limit = 6\n");
  d = await startAgentDaemon(toml);
  token = await apiToken(d);
  local = d.urls.broker!;
  remote = `${relay.url}/t/${TUNNEL_ID}`;
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await relay?.stop("SIGKILL");
  await fake?.stop();
  cleanup(relay?.dir, d?.home);
});

/** A key made with the CLI, once the daemon sees it (within a second). */
async function key(name: string, ...flags: string[]): Promise<string> {
  const k = createKey(d, name, ...flags);
  await until(async () => (await fetch(`${local}/api/version`, { headers: { "x-api-key": k } })).status === 200, 5000, `the daemon to see the key ${name}`);
  return k;
}

/** Headers for a call on this machine, or through the relay (its client key as the bearer token), with a gateway key or none. */
const headersFor = (where: string, gatewayKey?: string): Record<string, string> => ({
  "content-type": "application/json",
  ...(where === remote ? { authorization: `Bearer ${CLIENT_KEY}` } : {}),
  ...(gatewayKey ? { "x-api-key": gatewayKey } : {}),
});

const generate = (where: string, prompt: string, gatewayKey?: string, signal?: AbortSignal) =>
  fetch(`${where}/api/generate`, { method: "POST", headers: headersFor(where, gatewayKey), body: JSON.stringify({ model: "m:1b", prompt, stream: false }), signal });

interface UsageRow {
  key: string;
  model: string;
  caller: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
}
async function usageRows(keyName: string): Promise<UsageRow[]> {
  const r = await fetch(`${d.urls.api}/api/v1/usage?key=${encodeURIComponent(keyName)}`, { headers: { authorization: `Bearer ${token}` } });
  return ((await r.json()) as { rows: UsageRow[] }).rows;
}

/**
 * Nine workers retrying every 0.1 s fill the queue (max_parallel 1, queue_limit 6) from one side; the editor asks five
 * times from the other. Counted in answers, not milliseconds: how many other requests reached the upstream after the
 * editor asked and before its own did.
 */
async function floodVersusEditor(flood: (signal: AbortSignal) => Promise<Response>, editor: (prompt: string) => Promise<Response>, tag: string) {
  const stop = new AbortController();
  let floodRefused = 0;
  const worker = async () => {
    while (!stop.signal.aborted) {
      try {
        const r = await flood(stop.signal);
        await r.arrayBuffer();
        if (r.status === 429) floodRefused++;
      } catch {}
      await Bun.sleep(100);
    }
  };
  const running = Array.from({ length: 9 }, worker);
  await until(() => floodRefused > 0, 15_000, "the flood to fill the queue");
  const tries: { status: number; othersFirst: number }[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const prompt = `${tag}${i}`;
      const sent = performance.now();
      const r = await editor(prompt);
      await r.arrayBuffer();
      const mine = fake.requests.find((x) => (x.json as { prompt?: string } | undefined)?.prompt === prompt);
      const othersFirst = mine ? fake.requests.filter((x) => x.path === "/api/generate" && x.time > sent && x.time < mine.time).length : Infinity;
      tries.push({ status: r.status, othersFirst });
      await Bun.sleep(20 + Math.random() * 100);
    }
  } finally {
    stop.abort();
    await Promise.all(running);
  }
  return tries;
}

test("a flood on this machine cannot starve an editor through the relay, nor a flood through the relay one here: the editor is never refused and is served within two answers' time", async () => {
  const editorKey = await key("editor");
  const floodKey = await key("flood");
  // The common set-up: a script on this machine (no key needed), the editor through the relay (its client key only).
  const remoteEditor = await floodVersusEditor((signal) => generate(local, "flood", undefined, signal), (p) => generate(remote, p), "remote-editor");
  expect(remoteEditor.map((t) => t.status)).toEqual(Array(5).fill(200));
  expect(remoteEditor.filter((t) => t.othersFirst <= 1).length).toBeGreaterThanOrEqual(4);
  // The reverse, with gateway keys on both sides.
  await until(() => fake.concurrency.now === 0, 5000, "the flood's last answers");
  const localEditor = await floodVersusEditor((signal) => generate(remote, "flood", floodKey, signal), (p) => generate(local, p, editorKey), "local-editor");
  expect(localEditor.map((t) => t.status)).toEqual(Array(5).fill(200));
  expect(localEditor.filter((t) => t.othersFirst <= 1).length).toBeGreaterThanOrEqual(4);
}, 90_000);

test("a key's requests per minute and daily budget are one, whichever way its calls come: the limit is reached across both", async () => {
  const rpm = await key("rpm", "--rpm", "3");
  const statuses: number[] = [];
  for (const where of [local, remote, local, remote]) {
    const r = await generate(where, "rpm", rpm);
    statuses.push(r.status);
    if (r.status === 429) expect([(await r.json()) as unknown, Number(r.headers.get("retry-after"))]).toEqual([{ error: expect.stringContaining('"rpm" is over its limit of 3 requests per minute') }, expect.any(Number)]);
    else await r.arrayBuffer();
  }
  // The daemon's own check that the key exists (key()) was the first of its minute.
  expect(statuses).toEqual([200, 200, 429, 429]);
  // Six streams at once, three from each side, on a budget smaller than one call's hold: one runs, five wait for none.
  const budget = await key("shared-budget", "--tokens-per-day", "30");
  const all = await Promise.all([local, remote, local, remote, remote, local].map((where, i) => fetch(`${where}/api/generate`, { method: "POST", headers: headersFor(where, budget), body: JSON.stringify({ model: "m:1b", prompt: `b${i}` }) })));
  expect(all.map((r) => r.status).sort()).toEqual([200, 429, 429, 429, 429, 429]);
  await Promise.all(all.map((r) => r.arrayBuffer()));
});

test("a key's --max-parallel holds across both ways in: five calls at once, here and through the relay, run one at a time", async () => {
  const one = await key("one-at-a-time", "--max-parallel", "1");
  // The upstream without its own limit, so only the key's holds.
  writeFileSync(d.configFile, toml.replace("max_parallel = 1\n", ""));
  try {
    await until(async () => {
      fake.concurrency.max = 0;
      await Promise.all([generate(local, "x"), generate(local, "y")].map(async (r) => (await r).arrayBuffer()));
      return fake.concurrency.max === 2;
    }, 10_000, "the reload to lift the upstream's max_parallel");
    fake.concurrency.max = 0;
    const all = await Promise.all([local, remote, remote, local, remote].map((where, i) => generate(where, `one${i}`, one)));
    expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    await Promise.all(all.map((r) => r.arrayBuffer()));
    expect(fake.concurrency.max).toBe(1);
  } finally {
    writeFileSync(d.configFile, toml);
    await until(async () => {
      fake.concurrency.max = 0;
      await Promise.all([generate(local, "x"), generate(local, "y")].map(async (r) => (await r).arrayBuffer()));
      return fake.concurrency.max === 1;
    }, 10_000, "the reload to restore the upstream's max_parallel");
  }
});

/** The clients of one key, on this machine or through the relay (its client key as the bearer token, the gateway key in x-api-key). */
function clients(where: string, gatewayKey: string) {
  const viaRelay = where === remote;
  return {
    ollama: new Ollama({ host: where, headers: viaRelay ? { authorization: `Bearer ${CLIENT_KEY}`, "x-api-key": gatewayKey } : { "x-api-key": gatewayKey } }),
    openai: new OpenAI({ baseURL: `${where}/v1`, apiKey: viaRelay ? CLIENT_KEY : gatewayKey, defaultHeaders: viaRelay ? { "x-api-key": gatewayKey } : {}, maxRetries: 0 }),
    anthropic: viaRelay
      ? new Anthropic({ baseURL: where, authToken: CLIENT_KEY, apiKey: null, defaultHeaders: { "x-api-key": gatewayKey }, maxRetries: 0 })
      : new Anthropic({ baseURL: where, apiKey: gatewayKey, maxRetries: 0 }),
  };
}

test("a key with a model list sees only its models through the relay, with the ollama and openai clients, and cannot retrieve another", async () => {
  const listed = await key("listed", "--models", "m:*");
  const c = clients(remote, listed);
  expect((await c.ollama.list()).models.map((m) => m.name)).toEqual(["m:1b"]);
  expect((await c.ollama.ps()).models.map((m) => m.name)).toEqual(["m:1b"]);
  const ids: string[] = [];
  for await (const m of c.openai.models.list()) ids.push(m.id);
  expect(ids).toEqual(["m:1b"]);
  expect(await c.openai.models.retrieve("other:7b").then(() => 200, (e: { status: number }) => e.status)).toBe(403);
  // The same client key without the gateway key is the tunnel's (no key needed under auto): the whole list.
  expect((await new Ollama({ host: remote, headers: { authorization: `Bearer ${CLIENT_KEY}` } }).list()).models.map((m) => m.name).sort()).toEqual(["m:1b", "other:7b"]);
});

test("usage after 100 mixed calls (both ways in, three official clients, streamed and whole) equals exactly what the upstream generated", async () => {
  const mixKey = await key("mix");
  await until(() => fake.concurrency.now === 0, 5000, "the last flood's answers");
  fake.options.tokenDelayMs = 0;
  const by = { [local]: clients(local, mixKey), [remote]: clients(remote, mixKey) };
  const user = [{ role: "user" as const, content: "hi" }];
  const calls: ((c: ReturnType<typeof clients>, n: number) => Promise<unknown>)[] = [
    async (c, n) => c.ollama.generate({ model: "m:1b", prompt: "hi", options: { num_predict: n } }),
    async (c, n) => {
      for await (const _ of await c.ollama.chat({ model: "m:1b", messages: user, stream: true, options: { num_predict: n } }));
    },
    async (c, n) => c.openai.chat.completions.create({ model: "m:1b", messages: user, max_tokens: n }),
    async (c, n) => {
      for await (const _ of await c.openai.chat.completions.create({ model: "m:1b", messages: user, max_tokens: n, stream: true }));
    },
    async (c, n) => c.anthropic.messages.create({ model: "m:1b", max_tokens: n, messages: user }),
    async (c, n) => {
      for await (const _ of await c.anthropic.messages.create({ model: "m:1b", max_tokens: n, messages: user, stream: true }));
    },
  ];
  const expected = { local: { requests: 0, completion: 0 }, tunnel: { requests: 0, completion: 0 } };
  const generations = fake.requests.length;
  try {
    for (let i = 0; i < 100; i++) {
      const where = i % 2 === 0 ? local : remote;
      const n = 1 + ((i * 7) % 13);
      await calls[i % calls.length]!(by[where]!, n);
      const e = expected[where === local ? "local" : "tunnel"];
      e.requests++;
      e.completion += n;
    }
  } finally {
    fake.options.tokenDelayMs = 70;
  }
  // Every call reached the upstream once, and each was counted once, under the way it came in.
  expect(fake.requests.slice(generations).filter((r) => r.method === "POST" && !JSON.stringify(r.json).includes("flood")).length).toBe(100);
  const rows = await until(async () => {
    const r = await usageRows("mix");
    return r.filter((x) => x.model === "m:1b").reduce((s, x) => s + x.requests, 0) === 100 ? r : null;
  }, 8000, "100 calls to be counted");
  const of = (caller: string) => rows.filter((x) => x.model === "m:1b" && x.caller === caller).map(({ requests, prompt_tokens, completion_tokens }) => ({ requests, prompt_tokens, completion_tokens }));
  // The fake's prompt count is 7 for every dialect.
  expect(of("local")).toEqual([{ requests: 50, prompt_tokens: 50 * 7, completion_tokens: expected.local.completion }]);
  expect(of("tunnel")).toEqual([{ requests: 50, prompt_tokens: 50 * 7, completion_tokens: expected.tunnel.completion }]);
}, 60_000);

test("a call through the relay that gives up while queued (its client's abort, the relay's first_byte_timeout) leaves the queue: it never reaches the upstream, and gives its budget hold back", async () => {
  // A budget smaller than one call's hold (its prompt and 512 tokens): while one call is held, the next is refused (429).
  const q = await key("queued", "--tokens-per-day", "100");
  /** A call of that key through the relay, sent again while the key's budget is still held by the one before (429). */
  const admitted = (make: () => Promise<Response>) =>
    until(async () => {
      const r = await make();
      if (r.status !== 429) return r;
      await r.arrayBuffer();
      return null;
    }, 3000, "the call before to give its hold back");
  const queuedStream = (content: string) => () =>
    fetch(`${remote}/v1/chat/completions`, { method: "POST", headers: headersFor(remote, q), body: JSON.stringify({ model: "m:1b", stream: true, messages: [{ role: "user", content }] }) });
  fake.options.tokenDelayMs = 1000;
  // Holds the one slot for 10 s (10 tokens, 1 s each).
  const blocker = fetch(`${local}/api/generate`, { method: "POST", body: JSON.stringify({ model: "m:1b", prompt: "blocker", stream: false, options: { num_predict: 10 } }) });
  try {
    await until(() => fake.concurrency.now === 1, 5000, "the blocker to hold the slot");
    const gone = new AbortController();
    const aborted = generate(remote, "aborted-while-queued", q, gone.signal).catch((e: Error) => e.name);
    await until(async () => ((await (await fetch(`${d.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { queue?: { waiting: number } }).queue?.waiting === 1, 5000, "the call to wait in the queue");
    gone.abort();
    expect(await aborted).toBe("AbortError");
    // Its hold is back: the key's next call is admitted (an OpenAI stream that must wait gets its head at once), then cancelled.
    const next = await admitted(queuedStream("cancelled-while-queued"));
    expect(next.status).toBe(200);
    await next.body!.cancel();
    // An Ollama call gets no head while it waits: past the relay's first_byte_timeout (5 s) the relay answers 504.
    const late = await admitted(() => generate(remote, "waited-past-first-byte", q));
    expect(late.status).toBe(504);
    await late.arrayBuffer();
    const after = await admitted(queuedStream("after"));
    expect(after.status).toBe(200);
    await after.body!.cancel();
  } finally {
    fake.options.tokenDelayMs = 70;
    await (await blocker).arrayBuffer();
  }
  // Whatever was still queued would have its turn now that the blocker is done.
  await until(async () => (await metric(relay.url, "cloudtolocalllm_relay_streams_active")) === 0, 5000, "no stream left at the relay");
  await Bun.sleep(300);
  const asked = JSON.stringify(fake.requests.map((r) => r.json));
  for (const gaveUp of ["aborted-while-queued", "cancelled-while-queued", "waited-past-first-byte", '"after"']) expect({ gaveUp, reached: asked.includes(gaveUp) }).toEqual({ gaveUp, reached: false });
}, 40_000);

test("streams aborted through the relay (ollama and openai clients) stop at the upstream and are counted, so the key's budget runs out as here", async () => {
  const cut = await key("cut", "--tokens-per-day", "25");
  const c = clients(remote, cut);
  fake.options.tokens = 1000;
  fake.options.tokenDelayMs = 30;
  const aborts = fake.aborts.length;
  try {
    const ol = await c.ollama.generate({ model: "m:1b", prompt: "hi", stream: true });
    let n = 0;
    for await (const _ of ol) if (++n === 3) break;
    ol.abort();
    await fake.waitForAborts(aborts + 1, 5000);
    const first = await until(async () => (await usageRows("cut")).find((r) => r.model === "m:1b" && r.requests === 1), 5000, "the first aborted stream to be counted");
    expect(first.completion_tokens).toBeGreaterThanOrEqual(3);
    const ac = new AbortController();
    const oa = await c.openai.chat.completions.create({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: true }, { signal: ac.signal });
    n = 0;
    try {
      for await (const _ of oa) if (++n === 3) ac.abort();
    } catch {}
    await fake.waitForAborts(aborts + 2, 5000);
    const both = await until(async () => (await usageRows("cut")).find((r) => r.model === "m:1b" && r.requests === 2), 5000, "the second aborted stream to be counted");
    expect(both.completion_tokens).toBeGreaterThanOrEqual(first.completion_tokens + 2);
    expect(both.prompt_tokens + both.completion_tokens).toBeGreaterThanOrEqual(25);
    const next = await generate(remote, "over", cut);
    expect([next.status, ((await next.json()) as { error: string }).error]).toEqual([429, expect.stringContaining('"cut" used its 25 tokens for today')]);
    // Refused until 00:00 UTC: the SDKs, which retry a 429 after its Retry-After however long, are told not to
    // (x-should-retry crosses the tunnel), so the call fails at once rather than hang for hours; one request each.
    let sent = 0;
    const counted = (url: string | URL | Request, init?: RequestInit) => (sent++, fetch(url, init));
    const an = new Anthropic({ baseURL: remote, authToken: CLIENT_KEY, apiKey: null, defaultHeaders: { "x-api-key": cut }, maxRetries: 1, fetch: counted });
    const oa2 = new OpenAI({ baseURL: `${remote}/v1`, apiKey: CLIENT_KEY, defaultHeaders: { "x-api-key": cut }, maxRetries: 1, fetch: counted });
    const refused = await Promise.all([an.messages.create({ model: "m:1b", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).catch((e) => e), oa2.responses.create({ model: "m:1b", input: "hi" }).catch((e) => e)]);
    expect(refused.map((e) => [e?.constructor?.name, e?.status])).toEqual([["RateLimitError", 429], ["RateLimitError", 429]]);
    // (Within two minutes of 00:00 UTC the wait is short enough for the SDKs to honour: then they retry, rightly.)
    if (86_400_000 - (Date.now() % 86_400_000) > 120_000) expect(sent).toBe(2);
  } finally {
    fake.options.tokens = 3;
    fake.options.tokenDelayMs = 70;
  }
}, 30_000);

test("a key revoked while its calls wait in the queue: they are refused (401), never reaching the upstream; a call already running finishes", async () => {
  const leaked = await key("leaked");
  fake.options.tokenDelayMs = 1000;
  // The key's own call holds the one slot (3 tokens, 3 s); two more wait, one of them an OpenAI stream (its head at once).
  const running = generate(remote, "leaked-running", leaked);
  try {
    await until(() => fake.concurrency.now === 1, 5000, "the key's call to run");
    const waiting = generate(remote, "leaked-waiting", leaked);
    const stream = await fetch(`${remote}/v1/chat/completions`, { method: "POST", headers: headersFor(remote, leaked), body: JSON.stringify({ model: "m:1b", stream: true, messages: [{ role: "user", content: "leaked-stream" }] }) });
    expect(stream.status).toBe(200);
    await until(async () => ((await (await fetch(`${d.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { queue?: { waiting: number } }).queue?.waiting === 2, 5000, "both calls to wait");
    const revoked = Bun.spawnSync([process.execPath, "src/main.ts", "key", "revoke", "leaked"], { env: d.env, cwd: `${import.meta.dir}/../..` });
    expect(revoked.exitCode).toBe(0);
    // The daemon sees it within a second (a listing is answered by the broker itself, so this probe never queues).
    await until(async () => (await fetch(`${local}/api/tags`, { headers: { "x-api-key": leaked } })).status === 401, 3000, "the daemon to see the revoke");
    expect(fake.concurrency.now).toBe(1);
    const r = await running;
    expect(r.status).toBe(200);
    expect(((await r.json()) as { done: boolean }).done).toBe(true);
    const w = await waiting;
    expect([w.status, ((await w.json()) as { error: string }).error]).toEqual([401, expect.stringContaining('"leaked" was revoked')]);
    expect(await stream.text()).toMatch(/event: error\ndata: .*"code":"unauthorized"/);
  } finally {
    fake.options.tokenDelayMs = 70;
  }
  const asked = JSON.stringify(fake.requests.map((x) => x.json));
  expect([asked.includes("leaked-waiting"), asked.includes("leaked-stream")]).toEqual([false, false]);
}, 30_000);

test("a key revoked by the CLI while its calls wait: they are refused at once in each caller's dialect, while its running call still runs, not at their turn", async () => {
  const leaked = await key("leaked-now");
  const stopRunning = new AbortController();
  // The key's running call streams for a minute (a token a second), holding the one slot: a refusal that waited for its
  // turn would wait for that.
  fake.options.tokens = 60;
  fake.options.tokenDelayMs = 1000;
  // Streamed: the fake lets its generation go as soon as it is cancelled (a whole answer's would sleep on).
  const running = fetch(`${remote}/api/generate`, { method: "POST", headers: headersFor(remote, leaked), body: JSON.stringify({ model: "m:1b", prompt: "now-running", stream: true }), signal: stopRunning.signal })
    .then((r) => r.text())
    .catch((e: Error) => e);
  try {
    await until(() => fake.concurrency.now === 1, 5000, "the key's call to run");
    let settled = 0;
    const waiting = generate(remote, "now-waiting", leaked).finally(() => settled++);
    const anthropic = new Anthropic({ baseURL: local, apiKey: leaked, maxRetries: 0 });
    const messages = anthropic.messages.create({ model: "m:1b", max_tokens: 5, messages: [{ role: "user", content: "now-anthropic" }] }).catch((e) => e).finally(() => settled++);
    await until(async () => ((await (await fetch(`${d.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { queue?: { waiting: number } }).queue?.waiting === 2, 5000, "both calls to wait");
    const revoked = Bun.spawnSync([process.execPath, "src/main.ts", "key", "revoke", "leaked-now"], { env: d.env, cwd: `${import.meta.dir}/../..` });
    expect(revoked.exitCode).toBe(0);
    // No call of the key is made to notice it: the daemon reads the file as it changes. Before: both waited for the
    // running call's slot and were refused only when it was given back.
    await until(() => settled === 2, 10_000, "the waiting calls to be refused");
    expect(fake.concurrency.now).toBe(1);
    const w = await waiting;
    expect([w.status, ((await w.json()) as { error: string }).error]).toEqual([401, 'the API key "leaked-now" was revoked while its request waited in the queue']);
    const m = await messages;
    expect(m).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(m.error).toEqual({ type: "error", error: { type: "authentication_error", message: 'the API key "leaked-now" was revoked while its request waited in the queue' } });
    expect(d.stderr()).toMatch(/refused the requests a revoked key had waiting in the queue name=leaked-now requests=2/);
  } finally {
    stopRunning.abort();
    fake.options.tokens = 3;
    fake.options.tokenDelayMs = 70;
  }
  await running;
  await until(() => fake.concurrency.now === 0, 5000, "the running call to be let go");
  const asked = JSON.stringify(fake.requests.map((x) => x.json));
  expect([asked.includes("now-waiting"), asked.includes("now-anthropic")]).toEqual([false, false]);
}, 30_000);

/** Proxy hints and our own header names a remote caller might send to pass for a caller on this machine, or for a relay node. */
const CLAIMS_LOCAL = {
  "x-forwarded-for": "127.0.0.1",
  "x-forwarded-host": "127.0.0.1:11435",
  forwarded: "for=127.0.0.1;host=localhost",
  "x-real-ip": "127.0.0.1",
  "x-c2l-relay-node": "local",
  "x-c2l-replay-of": "r1",
};

test("a caller through the relay is the tunnel's whatever it claims: counted as such, and under require_key = always refused without a key; with one, counted under it", async () => {
  const who = await key("who");
  const prompt = `claims-${Date.now()}`;
  const r = await fetch(`${remote}/api/generate`, { method: "POST", headers: { ...headersFor(remote), ...CLAIMS_LOCAL }, body: JSON.stringify({ model: "m:1b", prompt, stream: false }) });
  expect(r.status).toBe(200);
  await r.arrayBuffer();
  // None of the proxy hints reached the upstream either (the agent drops them).
  const seen = fake.requests.find((x) => (x.json as { prompt?: string } | undefined)?.prompt === prompt)!;
  expect(Object.keys(seen.headers).filter((h) => h in CLAIMS_LOCAL && !h.startsWith("x-c2l-"))).toEqual([]);
  writeFileSync(d.configFile, toml.replace("[proxy]\n", '[proxy]\nrequire_key = "always"\n'));
  try {
    await until(async () => (await generate(local, "x")).status === 401, 10_000, "the reload to apply require_key = always");
    const refused = await fetch(`${remote}/api/generate`, { method: "POST", headers: { ...headersFor(remote), ...CLAIMS_LOCAL }, body: JSON.stringify({ model: "m:1b", prompt: "x", stream: false }) });
    expect([refused.status, ((await refused.json()) as { error: string }).error]).toEqual([401, expect.stringContaining("an API key is required for callers through the tunnel")]);
    // A key no one made, in the header the relay passes on, is 401 too.
    const forged = await fetch(`${remote}/api/generate`, { method: "POST", headers: { ...headersFor(remote, "c2l_" + "A".repeat(43)), ...CLAIMS_LOCAL }, body: "{}" });
    expect(forged.status).toBe(401);
    const keyed = await fetch(`${remote}/api/generate`, { method: "POST", headers: { ...headersFor(remote, who), ...CLAIMS_LOCAL }, body: JSON.stringify({ model: "m:1b", prompt: "x", stream: false }) });
    expect(keyed.status).toBe(200);
    await keyed.arrayBuffer();
  } finally {
    writeFileSync(d.configFile, toml);
    await until(async () => (await generate(local, "x")).status === 200, 10_000, "the reload back to require_key = auto");
  }
  const rows = await until(async () => (await usageRows("who")).find((x) => x.model === "m:1b"), 5000, "the keyed call to be counted");
  expect(rows).toMatchObject({ caller: "tunnel", requests: 1 });
  const anonymous = await until(async () => (await usageRows("-")).filter((x) => x.model === "m:1b"), 5000, "calls without a key");
  expect(anonymous.map((x) => x.caller).sort()).toEqual(["local", "tunnel"]);
}, 40_000);

test("a stream the tunnel resumes after its connection was lost is generated once and counted once, every token of it", async () => {
  const resumeKey = await key("resumed", "--tokens-per-day", "100000");
  fake.options.tokens = 40;
  fake.options.tokenDelayMs = 60;
  try {
    const generations = fake.requests.length;
    const res = await fetch(`${remote}/api/generate`, { method: "POST", headers: headersFor(remote, resumeKey), body: JSON.stringify({ model: "m:1b", prompt: "count" }) });
    expect(res.status).toBe(200);
    const text = (async () => {
      let t = "";
      for await (const chunk of res.body!) t += new TextDecoder().decode(chunk);
      return t;
    })();
    await until(() => fake.requests.slice(generations).some((r) => r.method === "POST"), 5000, "the generation to start");
    await pauseRelayPastTolerance(relay, d);
    const body = await text;
    expect(body).toContain('"done":true');
    expect(body).not.toContain('"error"');
    expect(fake.requests.slice(generations).filter((r) => r.method === "POST").length).toBe(1);
    expect(await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total")).toBe(1);
    expect(await until(async () => (await usageRows("resumed")).find((r) => r.model === "m:1b"), 5000, "the resumed stream to be counted")).toMatchObject({ caller: "tunnel", requests: 1, prompt_tokens: 7, completion_tokens: 40 });
  } finally {
    fake.options.tokens = 3;
    fake.options.tokenDelayMs = 70;
  }
}, 40_000);

// Last: the relay is gone for good after it.
test("a stream whose relay dies for good is cancelled at the upstream when the agent's resume window runs out, and counted once, never free", async () => {
  const lostKey = await key("lost", "--tokens-per-day", "100000");
  fake.options.tokens = 400;
  fake.options.tokenDelayMs = 30;
  const aborts = fake.aborts.length;
  try {
    const res = await fetch(`${remote}/api/generate`, { method: "POST", headers: headersFor(remote, lostKey), body: JSON.stringify({ model: "m:1b", prompt: "lost" }) });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let seen = "";
    while (!/tok4 /.test(seen)) seen += new TextDecoder().decode((await reader.read()).value);
    relay.proc.kill("SIGKILL");
    await reader.read().catch(() => null);
    // Not generated to its end: cancelled once the agent's 4 s ran out.
    await fake.waitForAborts(aborts + 1, 10_000);
    const row = await until(async () => (await usageRows("lost")).find((r) => r.model === "m:1b"), 5000, "the lost stream to be counted");
    expect(row).toMatchObject({ caller: "tunnel", requests: 1 });
    // What it relayed before the cancel (at least the 5 tokens seen, fewer than the 400 asked), its prompt estimated.
    expect(row.completion_tokens).toBeGreaterThanOrEqual(5);
    expect(row.completion_tokens).toBeLessThan(400);
    expect(row.prompt_tokens).toBeGreaterThan(0);
    await Bun.sleep(500);
    expect((await usageRows("lost")).find((r) => r.model === "m:1b")!.requests).toBe(1);
  } finally {
    fake.options.tokens = 3;
    fake.options.tokenDelayMs = 70;
  }
}, 30_000);
