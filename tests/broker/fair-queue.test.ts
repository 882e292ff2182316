// The fair queue through a real daemon: one key's flood of retries cannot take every place in the queue from another key.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, BUN, removeHome, REPO, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let fake: FakeOllama;
let d: DaemonProc;

beforeAll(async () => {
  // Every answer takes the fake upstream a fixed time (3 tokens, 70 ms each); one at a time (max_parallel = 1).
  fake = await startFakeOllama({ models: ["m:1b"], tokens: 3, tokenDelayMs: 70 });
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\nqueue_limit = 6\n[[upstreams]]\nname = "slow"\nurl = "${fake.url}"\nmax_parallel = 1\n`,
    waitFor: ["api", "broker"],
  });
}, 30_000);
afterAll(async () => {
  await d?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
});

const mk = (name: string) => Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", "create", name], { env: d.env, stdout: "pipe" }).stdout.toString().trim();

test("flood vs editor: nine workers of one key retrying every 0.1 s fill the queue; the other key is never refused and is served within two answers' time", async () => {
  const url = d.urls.broker!;
  const flood = mk("flood");
  const editor = mk("editor");
  await until(async () => (await fetch(`${url}/api/version`, { headers: { "x-api-key": editor } })).status === 200, 5000, "the daemon to see the keys");
  const generate = (k: string, prompt: string, signal?: AbortSignal) =>
    fetch(`${url}/api/generate`, { method: "POST", headers: { "x-api-key": k }, body: JSON.stringify({ model: "m:1b", prompt, stream: false }), signal });

  const stop = new AbortController();
  let floodRefused = 0;
  const worker = async () => {
    while (!stop.signal.aborted) {
      try {
        const r = await generate(flood, "flood", stop.signal);
        await r.arrayBuffer();
        if (r.status === 429) floodRefused++;
      } catch {}
      await Bun.sleep(100);
    }
  };
  const workers = Array.from({ length: 9 }, worker);
  // The queue is full for the flood (1 in flight, 6 waiting, the other workers refused) before the editor asks.
  await until(() => floodRefused > 0, 10_000, "the flood to fill the queue");

  const tries: { status: number; othersFirst: number }[] = [];
  try {
    for (let i = 0; i < 10; i++) {
      const sent = performance.now();
      const r = await generate(editor, `editor${i}`);
      await r.arrayBuffer();
      // Counted in answers, not milliseconds: how many other requests reached the upstream after the editor asked and
      // before its own did. At most one (the one being answered, or just given the slot) is "within two answers' time".
      const mine = fake.requests.find((x) => (x.json as { prompt?: string } | undefined)?.prompt === `editor${i}`);
      const othersFirst = mine ? fake.requests.filter((x) => x.path === "/api/generate" && x.time > sent && x.time < mine.time).length : Infinity;
      tries.push({ status: r.status, othersFirst });
      await Bun.sleep(20 + Math.random() * 100); // a different moment of the flood's cycle each time
    }
    // One answer at a time held throughout (measured before the workers' aborts, which the fake notices a token late).
    expect(fake.concurrency.max).toBe(1);
  } finally {
    stop.abort();
    await Promise.all(workers);
  }
  expect(floodRefused).toBeGreaterThan(0);
  expect(tries.map((t) => t.status)).toEqual(Array(10).fill(200));
  expect(tries.filter((t) => t.othersFirst <= 1).length).toBeGreaterThanOrEqual(9);
}, 60_000);

test("a key revoked and made again under its name while its requests wait: the new key gets a place at once (the dead requests do not hold its share) and is served; they get 401", async () => {
  const url = d.urls.broker!;
  const old = mk("rotated");
  await until(async () => (await fetch(`${url}/api/version`, { headers: { "x-api-key": old } })).status === 200, 5000, "the daemon to see the key");
  const generate = (k: string, prompt: string) => fetch(`${url}/api/generate`, { method: "POST", headers: { "x-api-key": k }, body: JSON.stringify({ model: "m:1b", prompt, stream: false }) });
  // Long enough for the rotation to happen while every place is still taken (a GPU busy for minutes, in life).
  fake.options.tokenDelayMs = 2000;
  fake.options.tokens = 2;
  try {
    // A generation without a key holds the one slot; six of the leaked key's fill the queue (queue_limit = 6).
    const holder = generate("", "hold");
    await until(() => fake.concurrency.now === 1, 5000, "the slot to be taken");
    const leaked = Array.from({ length: 6 }, (_, i) => generate(old, `leaked ${i}`));
    const token = await apiToken(d);
    const waiting = async () => ((await (await fetch(`${d.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { queue: { waiting: number } }).queue.waiting;
    await until(async () => (await waiting()) === 6, 5000, "the six to wait");
    expect((await generate(old, "one more")).status).toBe(429);
    expect(Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", "revoke", "rotated"], { env: d.env }).exitCode).toBe(0);
    const fresh = mk("rotated");
    // The model list: answered by the broker itself, never queued.
    await until(async () => (await fetch(`${url}/api/tags`, { headers: { "x-api-key": fresh } })).status === 200, 5000, "the daemon to see the new key");
    let answered = false;
    const asked = generate(fresh, "the rightful owner").finally(() => (answered = true));
    // The six it replaced left the queue at the revoke (refused at once): it waits behind the holder alone, or is
    // answered; then the upstream may speed up.
    await until(async () => answered || (await waiting()) === 1, 5000, "the new key's request to wait or be answered");
    fake.options.tokenDelayMs = 70;
    const r = await asked;
    expect(r.status).toBe(200);
    expect(((await r.json()) as { done: boolean }).done).toBe(true);
    expect((await Promise.all(leaked)).map((x) => x.status)).toEqual([401, 401, 401, 401, 401, 401]);
    await holder;
    // None of the revoked key's reached the upstream; the new key's did.
    const prompts = fake.requests.filter((x) => x.path === "/api/generate").map((x) => (x.json as { prompt: string }).prompt);
    expect(prompts.filter((p) => p.startsWith("leaked") || p === "one more")).toEqual([]);
    expect(prompts.filter((p) => p === "the rightful owner")).toHaveLength(1);
  } finally {
    fake.options.tokenDelayMs = 70;
    fake.options.tokens = 3;
  }
}, 30_000);
