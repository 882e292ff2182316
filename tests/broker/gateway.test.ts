// API keys through a real daemon, as the official ollama and openai clients see them: 401 for a wrong key, 403 for a
// model the key may not use, 429 with Retry-After over its rate; keys made by the CLI while the daemon runs.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { join } from "node:path";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { BUN, removeHome, REPO, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let fake: FakeOllama;
let d: DaemonProc;
let broker: string;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["llama3.2:1b", "qwen2.5:0.5b"], tokens: 2 });
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n`,
    waitFor: ["api", "broker"],
  });
  broker = d.urls.broker!;
}, 30_000);
afterAll(async () => {
  await d?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
});

function key(...args: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", ...args], { env: d.env, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString().trim(), err: r.stderr.toString() };
}

async function thrown(p: Promise<unknown>): Promise<{ message: string; status: number }> {
  try {
    await p;
  } catch (e) {
    const x = e as { message: string; status_code?: number; status?: number };
    return { message: x.message, status: x.status_code ?? x.status ?? 0 };
  }
  throw new Error("the call succeeded");
}

const chat = (model: string) => ({ model, messages: [{ role: "user" as const, content: "hi" }] });
const ollama = (k?: string) => new Ollama({ host: broker, ...(k ? { headers: { Authorization: `Bearer ${k}` } } : {}) });
const openai = (k: string) => new OpenAI({ baseURL: `${broker}/v1`, apiKey: k, maxRetries: 0 });

test("from this machine no key is needed (require_key auto); a placeholder bearer is not a key", async () => {
  expect((await ollama().chat(chat("llama3.2:1b"))).message.content.length).toBeGreaterThan(0);
  // OpenAI clients must send some key; "ollama" is what every guide tells people to put there.
  expect((await openai("ollama").chat.completions.create(chat("llama3.2:1b"))).choices.length).toBe(1);
});

test("a wrong key is 401 in each dialect, as the clients show it", async () => {
  const o = await thrown(ollama("c2l_notarealkey0000000000000000000000000000000").chat(chat("llama3.2:1b")));
  expect(o.status).toBe(401);
  expect(o.message).toContain("the API key c2l_nota… is not known");
  const a = await thrown(openai("c2l_notarealkey0000000000000000000000000000000").chat.completions.create(chat("llama3.2:1b")));
  expect(a.status).toBe(401);
  expect(a.message).toContain("is not known");
});

test("a key made by the CLI while the daemon runs works within a second; its model list is 403 for other models", async () => {
  const made = key("create", "editor", "--models", "llama3*");
  expect(made.code).toBe(0);
  const k = made.out;
  expect(k).toMatch(/^c2l_/);
  await until(async () => (await fetch(`${broker}/api/tags`, { headers: { authorization: `Bearer ${k}` } })).status === 200, 5000, "the daemon to see the new key");
  expect((await ollama(k).chat(chat("llama3.2:1b"))).done).toBe(true);
  // The version check clients make before anything else (Open WebUI, the ollama client) names no model: not a 403.
  expect((await ollama(k).version()).version).toBeString();
  expect((await fetch(`${broker}/api/version`, { headers: { authorization: `Bearer ${k}` } })).status).toBe(200);
  expect((await fetch(`${broker}/`, { headers: { authorization: `Bearer ${k}` } })).status).not.toBe(403);
  const o = await thrown(ollama(k).chat(chat("qwen2.5:0.5b")));
  expect(o).toEqual({ status: 403, message: 'the API key "editor" may not use model "qwen2.5:0.5b" (allowed: llama3*)' });
  const a = await thrown(openai(k).chat.completions.create(chat("qwen2.5:0.5b")));
  expect(a.status).toBe(403);
  expect(a.message).toContain('may not use model "qwen2.5:0.5b"');
  // x-api-key works too, and no credential of the caller's reaches the upstream.
  const before = fake.requests.length;
  const r = await fetch(`${broker}/api/chat`, { method: "POST", headers: { "x-api-key": k, "content-type": "application/json" }, body: JSON.stringify({ ...chat("llama3.2:1b"), stream: false }) });
  expect(r.status).toBe(200);
  const seen = fake.requests.slice(before).find((x) => x.path === "/api/chat")!;
  expect(seen.headers["x-api-key"]).toBeUndefined();
  expect(seen.headers.authorization).toBeUndefined();
  // Revoked: 401 from then on.
  expect(key("revoke", "editor").code).toBe(0);
  await until(async () => (await fetch(`${broker}/api/tags`, { headers: { authorization: `Bearer ${k}` } })).status === 401, 5000, "the daemon to see the revocation");
});

test("over its requests per minute a key gets 429 with Retry-After, in each dialect", async () => {
  const k = key("create", "bot", "--rpm", "2").out;
  await until(async () => (await fetch(`${broker}/api/tags`, { headers: { "x-api-key": k } })).status === 200, 5000, "the daemon to see the new key");
  // That was one of the two; the next passes, the third does not.
  expect((await ollama(k).chat(chat("llama3.2:1b"))).done).toBe(true);
  const raw = await fetch(`${broker}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${k}` }, body: JSON.stringify(chat("llama3.2:1b")) });
  expect(raw.status).toBe(429);
  expect(Number(raw.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(raw.headers.get("x-c2l-error-code")).toBe("rate_limited");
  expect(((await raw.json()) as { error: string }).error).toContain('the API key "bot" is over its limit of 2 requests per minute');
  const o = await thrown(ollama(k).chat(chat("llama3.2:1b")));
  expect(o.status).toBe(429);
  const a = await thrown(openai(k).chat.completions.create(chat("llama3.2:1b")));
  expect(a.status).toBe(429);
  expect(a.message).toContain("requests per minute");
  const v1 = await fetch(`${broker}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${k}` }, body: JSON.stringify(chat("llama3.2:1b")) });
  expect(v1.status).toBe(429);
  expect(Number(v1.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(((await v1.json()) as { error: { type: string; code: string } }).error).toMatchObject({ type: "rate_limit_error", code: "rate_limited" });
});

test("usage per key and model equals the upstream's token counts, survives a restart, and enforces tokens_per_day", async () => {
  const k = key("create", "meter", "--tokens-per-day", "20").out;
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": k } })).status === 200, 5000, "the daemon to see the new key");
  const chatOnce = () => fetch(`${broker}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${k}` }, body: JSON.stringify({ ...chat("llama3.2:1b"), stream: false }) });
  // The fake upstream reports 7 prompt and 2 completion tokens per chat: 9, 18, 27 — the fourth is over 20.
  for (let i = 0; i < 3; i++) {
    const r = await chatOnce();
    expect(r.status).toBe(200);
    expect(r.headers.get("server-timing")).toMatch(/^broker;dur=\d+\.\d{2}, queue;dur=0\.00$/);
    await r.arrayBuffer();
  }
  const api = d.urls.api!;
  const token = (await Bun.file(join(d.home, ".config/cloudtolocalllm/api-token")).text()).trim();
  const usage = async () =>
    (await (await fetch(`${api}/api/v1/usage?key=meter&model=llama3.2:1b`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      rows: { key: string; model: string; caller: string; requests: number; prompt_tokens: number; completion_tokens: number }[];
      totals: { requests: number; prompt_tokens: number; completion_tokens: number };
    };
  await until(async () => (await usage()).totals.requests === 3, 5000, "the three requests to be counted");
  const u = await usage();
  expect(u.totals).toMatchObject({ requests: 3, prompt_tokens: 21, completion_tokens: 6 });
  expect(u.rows.map((r) => [r.key, r.model, r.caller])).toEqual([["meter", "llama3.2:1b", "local"]]);
  const over = await chatOnce();
  expect(over.status).toBe(429);
  expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(((await over.json()) as { error: string }).error).toContain('the API key "meter" used its 20 tokens for today (27 used)');
  // The same budget in OpenAI's dialect, as the official client shows it.
  const oa = await thrown(openai(k).chat.completions.create(chat("llama3.2:1b")));
  expect(oa.status).toBe(429);
  expect(oa.message).toContain("used its 20 tokens for today");
  const metrics = await (await fetch(`${api}/metrics`)).text();
  expect(metrics).toContain('c2l_usage_tokens_total{key="meter",model="llama3.2:1b",kind="completion"} 6');
  expect(metrics).toContain('c2l_usage_tokens_total{key="meter",model="llama3.2:1b",kind="prompt"} 21');

  // A restart keeps the day's counts (and so the budget).
  await d.stop();
  d = await startDaemon({ home: d.home, waitFor: ["api", "broker"] });
  broker = d.urls.broker!;
  const api2 = d.urls.api!;
  const after = (await (await fetch(`${api2}/api/v1/usage?key=meter`, { headers: { authorization: `Bearer ${token}` } })).json()) as { totals: { prompt_tokens: number; completion_tokens: number } };
  expect(after.totals).toMatchObject({ prompt_tokens: 21, completion_tokens: 6 });
  await until(async () => (await chatOnce()).status === 429, 5000, "the budget to hold after the restart");
}, 60_000);

test("fair across keys through a real daemon: with one key flooding a max_parallel = 1 upstream, the other key's request waits at most one slot", async () => {
  const slow = await startFakeOllama({ models: ["m:1b"], tokens: 4, tokenDelayMs: 30 });
  const fd = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "slow"\nurl = "${slow.url}"\nmax_parallel = 1\n`,
    waitFor: ["api", "broker"],
  });
  try {
    const mk = (name: string) => Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", "create", name], { env: fd.env, stdout: "pipe" }).stdout.toString().trim();
    const flood = mk("flood");
    const editor = mk("editor");
    const url = fd.urls.broker!;
    await until(async () => (await fetch(`${url}/api/version`, { headers: { "x-api-key": editor } })).status === 200, 5000, "the daemon to see the keys");
    const done: string[] = [];
    const post = (k: string, tag: string) =>
      fetch(`${url}/api/generate`, { method: "POST", headers: { "x-api-key": k }, body: JSON.stringify({ model: "m:1b", prompt: "x", stream: false }) }).then(async (r) => {
        await r.arrayBuffer();
        done.push(tag);
        return r;
      });
    const floods = Array.from({ length: 6 }, (_, i) => post(flood, `flood${i}`));
    // Let the flood take the slot and fill the queue, then the editor asks.
    await until(() => slow.concurrency.now === 1, 5000, "the flood to reach the upstream");
    await Bun.sleep(50);
    const ed = post(editor, "editor");
    await Promise.all([...floods, ed]);
    // The one flood request in flight when the editor arrived finishes first; the editor's is next.
    expect(done.indexOf("editor")).toBeLessThanOrEqual(1);
    expect(slow.concurrency.max).toBe(1);
    expect((await ed).headers.get("x-queue-position")).not.toBeNull();
  } finally {
    await fd.stop();
    removeHome(fd.home);
    await slow.stop();
  }
}, 60_000);

test("a caller naming a new model in every request cannot grow the usage rows and /metrics without bound (past 256 a day they count as (other)), nor name one of megabytes", async () => {
  const k = key("create", "namer").out;
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": k } })).status === 200, 5000, "the daemon to see the new key");
  const ask = (model: string) => fetch(`${broker}/api/chat`, { method: "POST", headers: { "x-api-key": k }, body: JSON.stringify({ ...chat(model), stream: false }) });
  // A model name of megabytes would be kept in the request's record (the inspector holds 200) after its body was given
  // back: refused before anything is kept.
  const long = await ask("x".repeat(4 * 1024 * 1024));
  expect([long.status, long.headers.get("x-c2l-error-code")]).toEqual([400, "bad_request"]);
  expect(((await long.json()) as { error: string }).error).toContain("a model name has at most 1024");
  // 300 requests, each for a model nobody has (the upstream answers 404).
  for (let i = 0; i < 300; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => ask(`made-up-${i + j}:1b`).then((r) => r.arrayBuffer())));
  const api = d.urls.api!;
  const token = (await Bun.file(join(d.home, ".config/cloudtolocalllm/api-token")).text()).trim();
  const usage = async () =>
    (await (await fetch(`${api}/api/v1/usage?key=namer`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      rows: { model: string; requests: number; errors: number }[];
      totals: { requests: number };
    };
  // The 300, and the /api/version asked while waiting for the key (its row: model "-").
  await until(async () => (await usage()).totals.requests === 301, 5000, "the requests to be counted");
  const { rows } = await usage();
  // Every request is counted, in at most 256 rows of their own plus one for the rest.
  expect(rows.length).toBe(257);
  expect(rows.filter((r) => r.model.startsWith("made-up-")).length).toBe(255);
  expect(rows.find((r) => r.model === "(other)")).toMatchObject({ requests: 300 - 255, errors: 300 - 255 });
  expect(Math.max(...rows.map((r) => r.model.length))).toBeLessThan(20);
  const series = (await (await fetch(`${api}/metrics`)).text()).split("\n").filter((l) => l.startsWith('c2l_usage_requests_total{key="namer"'));
  expect(series.length).toBe(257);
}, 60_000);

test("made-up model names past the bound cannot push a model the upstream lists into (other): it keeps its own usage row and /metrics series", async () => {
  const k = key("create", "crowded").out;
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": k } })).status === 200, 5000, "the daemon to see the new key");
  // The upstream was checked: the broker lists its models.
  await until(async () => JSON.stringify(await (await fetch(`${broker}/api/tags`)).json()).includes("qwen2.5:0.5b"), 10_000, "the upstream's models");
  const ask = (model: string) => fetch(`${broker}/api/chat`, { method: "POST", headers: { "x-api-key": k }, body: JSON.stringify({ ...chat(model), stream: false }) });
  // A careless script: 300 names nobody has, each a 404, fill the key's 256 places for the day (and for /metrics).
  for (let i = 0; i < 300; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => ask(`uuid-${i + j}`).then((r) => r.arrayBuffer())));
  // Then the model the upstream has, asked for the first time with this key.
  expect((await ask("qwen2.5:0.5b")).status).toBe(200);
  const api = d.urls.api!;
  const token = (await Bun.file(join(d.home, ".config/cloudtolocalllm/api-token")).text()).trim();
  const usage = async () => (await (await fetch(`${api}/api/v1/usage?key=crowded`, { headers: { authorization: `Bearer ${token}` } })).json()) as { rows: { model: string; requests: number }[]; totals: { requests: number } };
  await until(async () => (await usage()).totals.requests === 302, 5000, "the requests to be counted");
  const { rows } = await usage();
  expect(rows.find((r) => r.model === "qwen2.5:0.5b")).toMatchObject({ requests: 1 });
  // The made-up names are bounded as before: 255 of their own (and the /api/version row, "-"), the rest (other).
  expect(rows.filter((r) => r.model.startsWith("uuid-")).length).toBe(255);
  expect(rows.find((r) => r.model === "(other)")).toMatchObject({ requests: 300 - 255 });
  const series = (await (await fetch(`${api}/metrics`)).text()).split("\n").filter((l) => l.startsWith('c2l_usage_requests_total{key="crowded"'));
  expect(series.filter((l) => l.includes('model="qwen2.5:0.5b"')).length).toBe(1);
  expect(series.length).toBe(258);
}, 60_000);

test("a body that ends inside its JSON object is a 400 for everyone, before the upstream: not 'too large' for a key with a model list", async () => {
  const k = key("create", "cut", "--models", "llama3*").out;
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": k } })).status === 200, 5000, "the daemon to see the new key");
  const before = fake.requests.length;
  for (const headers of [{ "x-api-key": k }, {}] as Record<string, string>[]) {
    for (const [path, body] of [["/api/chat", '{"model":"llama3.2:1b","messages":['], ["/v1/chat/completions", '{"model":"llama3.2:1b"']]) {
      const r = await fetch(`${broker}${path}`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body });
      const text = await r.text();
      expect({ path, key: !!headers["x-api-key"], status: r.status, code: r.headers.get("x-c2l-error-code") }).toEqual({ path, key: !!headers["x-api-key"], status: 400, code: "bad_request" });
      expect(text).toContain("not valid JSON (it ends inside its object)");
    }
  }
  expect(fake.requests.slice(before).filter((r) => r.method === "POST")).toEqual([]);
});

test("two different keys in two Authorization headers (a Basic credential beside a bearer key) are 400, whichever comes first", async () => {
  const limited = key("create", "dup-limited", "--models", "llama3*").out;
  const open = key("create", "dup-open").out;
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": open } })).status === 200, 5000, "the daemon to see the new keys");
  const port = Number(new URL(broker).port);
  const basic = (k: string) => `Basic ${Buffer.from(`u:${k}`).toString("base64")}`;
  // Sent as two header lines, as a proxy adding its own credential would: the client library never joins them.
  const send = (lines: string[]) =>
    new Promise<string>((resolve) => {
      const body = JSON.stringify({ ...chat("qwen2.5:0.5b"), stream: false });
      const s = connect(port, "127.0.0.1", () =>
        s.write(`POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: ${body.length}\r\n${lines.map((l) => `${l}\r\n`).join("")}\r\n${body}`),
      );
      let out = "";
      s.on("data", (c) => (out += c));
      s.on("close", () => resolve(out));
    });
  const before = fake.requests.filter((r) => r.path === "/api/chat").length;
  for (const lines of [
    [`Authorization: ${basic(open)}`, `Authorization: Bearer ${limited}`],
    [`Authorization: Bearer ${limited}`, `Authorization: ${basic(open)}`],
  ]) {
    const answer = await send(lines);
    expect({ lines: lines.map((l) => l.slice(0, 21)), status: answer.slice(0, 12) }).toEqual({ lines: lines.map((l) => l.slice(0, 21)), status: "HTTP/1.1 400" });
    expect(answer).toContain("the request carries two different API keys");
  }
  expect(fake.requests.filter((r) => r.path === "/api/chat").length).toBe(before);
});

test("a key's --max-parallel holds through a real daemon: three at once on an upstream without a limit run one at a time, the others queued", async () => {
  const k = key("create", "single", "--max-parallel", "1").out;
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": k } })).status === 200, 5000, "the daemon to see the new key");
  fake.options.tokenDelayMs = 150; // 2 tokens: each answer takes some 300 ms, long enough for two to overlap
  fake.concurrency.max = 0;
  try {
    const replies = await Promise.all(Array.from({ length: 3 }, () => ollama(k).chat({ ...chat("llama3.2:1b"), stream: false }).then(() => "ok")));
    expect(replies).toEqual(["ok", "ok", "ok"]);
    expect(fake.concurrency.max).toBe(1);
    // Another caller is not held by that key's limit.
    const [a, b] = await Promise.all([fetch(`${broker}/api/chat`, { method: "POST", body: JSON.stringify({ ...chat("llama3.2:1b"), stream: false }) }), ollama(k).chat({ ...chat("llama3.2:1b"), stream: false })]);
    expect(a.status).toBe(200);
    expect(b.done).toBe(true);
    expect(fake.concurrency.max).toBe(2);
  } finally {
    fake.options.tokenDelayMs = 0;
  }
});
