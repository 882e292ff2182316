// The fields of a generation request the broker and the gateway act on (stream, the generation limits, n, Ollama's
// options), through a real daemon: read as the upstream reads them, or refused with a 400 when upstreams differ.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, createKey, removeHome, startDaemon, untilCounted, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

/** An Ollama upstream (Go's decoder: keys without case, the last one winning) and a vLLM one (pydantic: exact keys, lax numbers). */
let go: FakeOllama;
let vllm: FakeOllama;
/** llama.cpp: its OpenAI routes also without /v1, and its own /completion (n_predict, tokens_predicted). */
let llama: FakeOllama;
/** LM Studio: its REST API serves the OpenAI routes under /api/v0 too. */
let lms: FakeOllama;
let d: DaemonProc;
let broker: string;
let token: string;
const keys: Record<string, string> = {};

beforeAll(async () => {
  go = await startFakeOllama({ models: ["g:1b"], tokens: 6, tokenDelayMs: 1 });
  vllm = await startFakeOllama({ models: ["v:1b"], tokens: 6, tokenDelayMs: 1, kind: "vllm" });
  llama = await startFakeOllama({ models: ["l:1b"], tokens: 6, tokenDelayMs: 1, kind: "llamacpp" });
  lms = await startFakeOllama({ models: ["s:1b"], tokens: 6, tokenDelayMs: 1, kind: "lmstudio" });
  d = await startDaemon({
    config: `[api]
listen = "127.0.0.1:0"
[proxy]
listen = "127.0.0.1:0"
[[upstreams]]
name = "go"
url = "${go.url}"
[[upstreams]]
name = "vllm"
kind = "vllm"
url = "${vllm.url}"
[[upstreams]]
name = "llama"
kind = "llamacpp"
url = "${llama.url}"
[[upstreams]]
name = "lms"
kind = "lmstudio"
url = "${lms.url}"
`,
    waitFor: ["api", "broker"],
  });
  broker = d.urls.broker!;
  token = await apiToken(d);
  keys.any = createKey(d, "any", "--models", "g:1b,v:1b");
  keys.native = createKey(d, "native", "--tokens-per-day", "100000");
  keys.large = createKey(d, "large", "--tokens-per-day", "1000000");
  for (const name of ["escaped", "options", "digits", "underscored", "python", "batch", "copies", "gz", "native5"]) keys[name] = createKey(d, name, "--tokens-per-day", "600");
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": keys.gz! } })).status !== 401, 5000, "the daemon to see the keys");
  await untilUpstreamsUp(d, token, 4);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await go?.stop();
  await vllm?.stop();
  await llama?.stop();
  await lms?.stop();
  if (d) removeHome(d.home);
});

const post = (path: string, key: string, body: BodyInit, headers: Record<string, string> = {}) =>
  fetch(`${broker}${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers }, body });
const msgs = '"messages":[{"role":"user","content":"hi"}]';

test("a body naming stream, a generation limit, n or options twice or in another spelling is a 400 in the caller's dialect, and reaches no upstream", async () => {
  const cases: [path: string, body: string, says: string, shape: (j: any) => string][] = [
    ["/api/chat", `{"model":"g:1b",${msgs},"options":{"num_predict":10},"OPTIONS":{"num_predict":100000}}`, 'names "options" also as "OPTIONS"', (j) => j.error],
    ["/api/generate", `{"model":"g:1b","prompt":"hi","stream":false,"Stream":true}`, 'names "stream" also as "Stream"', (j) => j.error],
    ["/v1/chat/completions", `{"model":"g:1b",${msgs},"max_tokens":600,"MAX_TOKENS":100000}`, 'names "max_tokens" also as "MAX_TOKENS"', (j) => j.error.message],
    ["/v1/chat/completions", `{"model":"v:1b",${msgs},"max_tokens":600,"max_tokens":100000}`, 'has "max_tokens" 2 times', (j) => j.error.message],
    ["/v1/completions", `{"model":"v:1b","prompt":"hi","n":1,"N":50}`, 'names "n" also as "N"', (j) => j.error.message],
    ["/v1/messages", `{"model":"g:1b","max_tokens":100,"Max_Tokens":100000,${msgs}}`, 'names "max_tokens" also as "Max_Tokens"', (j) => j.error.message],
    ["/v1/responses", `{"model":"g:1b","input":"hi","max_output_tokens":20,"\\u006dax_output_tokens":100000}`, 'has "max_output_tokens" 2 times', (j) => j.error.message],
    // vLLM's pydantic reads "true" as true, llama.cpp as false, Ollama refuses it: the broker would not know whether it streams.
    ["/v1/chat/completions", `{"model":"v:1b",${msgs},"stream":"true"}`, '"stream" in the request body must be true or false, not "true"', (j) => j.error.message],
    ["/v1/chat/completions", `{"model":"v:1b",${msgs},"stream":1}`, '"stream" in the request body must be true or false, not 1', (j) => j.error.message],
    // Ollama refuses "false"; the broker's translation of an Ollama request for another kind would have streamed.
    ["/api/chat", `{"model":"g:1b",${msgs},"stream":"false"}`, '"stream" in the request body must be true or false, not "false"', (j) => j.error],
  ];
  const before = go.requests.length + vllm.requests.length;
  for (const [path, body, says, shape] of cases) {
    const r = await post(path, keys.any!, body);
    const j = await r.json();
    expect({ path, body, status: r.status, message: shape(j) }).toEqual({ path, body, status: 400, message: expect.stringContaining(says) });
  }
  expect(go.requests.length + vllm.requests.length).toBe(before);
  // One spelling of each passes (the same fields, each once).
  const ok = await post("/v1/chat/completions", keys.any!, `{"model":"g:1b",${msgs},"max_tokens":3,"stream":false,"n":1}`);
  expect(ok.status).toBe(200);
  expect(go.requests.at(-1)!.json).toMatchObject({ max_tokens: 3, stream: false });
});

/**
 * Five calls at once on a 600-token budget, each asking for 700 tokens in a spelling the upstream reads but the byte
 * search the hold used did not: each must hold 700, so one runs and four are refused (holding the default 512 let two run).
 */
async function fiveAtOnce(key: string, path: string, body: string, fake: FakeOllama): Promise<void> {
  // Calls of this route only: the upstream's health checks (four reads for llama.cpp) may fall in the same moment.
  const calls = () => fake.requests.filter((r) => r.path === path).length;
  const before = calls();
  const rs = await Promise.all(Array.from({ length: 5 }, () => post(path, keys[key]!, body)));
  const texts = await Promise.all(rs.map((r) => r.text()));
  expect(rs.map((r) => r.status).sort()).toEqual([200, 429, 429, 429, 429]);
  expect(texts.find((_, i) => rs[i]!.status === 429)).toContain(`${key}\\" has its 600 tokens for today used or held by requests in flight`);
  expect(calls() - before).toBe(1);
  // The one that ran generated the 700 tokens the upstream read.
  expect((await untilCounted(d, token, key, 1)).completion_tokens).toBe(700);
}

test("the hold reads a generation limit as the upstream does: an escaped name (\\u006dax_tokens)", async () => {
  await fiveAtOnce("escaped", "/v1/chat/completions", `{"model":"g:1b",${msgs},"\\u006dax_tokens":700}`, go);
}, 30_000);

test("the hold reads a generation limit as the upstream does: Ollama's options.num_predict as 7e2 (Go reads any number into its options)", async () => {
  await fiveAtOnce("options", "/api/chat", `{"model":"g:1b",${msgs},"stream":false,"options":{"num_predict":7e2}}`, go);
}, 30_000);

test("the hold reads a generation limit as the upstream does: vLLM's max_tokens as a string of digits (pydantic reads \"700\" as 700)", async () => {
  await fiveAtOnce("digits", "/v1/chat/completions", `{"model":"v:1b",${msgs},"max_tokens":"700"}`, vllm);
}, 30_000);

test("the hold reads a generation limit as the upstream does: vLLM's max_tokens as \"7_00\" (pydantic's lax integers are Python's int(), which skips an underscore between digits)", async () => {
  await fiveAtOnce("underscored", "/v1/chat/completions", `{"model":"v:1b",${msgs},"max_tokens":"7_00"}`, vllm);
}, 30_000);

test("a body only Python's json reads (UTF-16 or UTF-32, NaN or Infinity anywhere) is a 400 in the caller's dialect: vLLM would generate its max_tokens while the hold read none", async () => {
  const json = `{"model":"v:1b",${msgs},"max_tokens":700}`;
  const utf16be = new Uint8Array(Buffer.from(json, "utf16le").swap16());
  const cases: [path: string, body: Uint8Array<ArrayBuffer> | string, says: string, shape: (j: any) => string][] = [
    ["/v1/chat/completions", utf16be, "UTF-16 or UTF-32", (j) => j.error.message],
    ["/v1/chat/completions", new Uint8Array([0xff, 0xfe, ...Buffer.from(json, "utf16le")]), "UTF-16 or UTF-32", (j) => j.error.message],
    ["/v1/chat/completions", `{"model":"v:1b",${msgs},"max_tokens":700,"temperature":NaN}`, "NaN and Infinity are not JSON", (j) => j.error.message],
    ["/v1/completions", `{"model":"v:1b","prompt":"hi","max_tokens":700,"logit_bias":{"1":-Infinity}}`, "NaN and Infinity are not JSON", (j) => j.error.message],
    ["/api/chat", `{"model":"g:1b",${msgs},"options":{"num_predict":700,"temperature":NaN}}`, "NaN and Infinity are not JSON", (j) => j.error],
  ];
  const before = go.requests.length + vllm.requests.length;
  for (const [path, body, says, shape] of cases) {
    const r = await post(path, keys.python!, body);
    const j = await r.json();
    expect({ path, status: r.status, message: shape(j) }).toEqual({ path, status: 400, message: expect.stringContaining(says) });
  }
  expect(go.requests.length + vllm.requests.length).toBe(before);
  // The same body in UTF-8, without NaN, runs (and holds its 700).
  const ok = await post("/v1/chat/completions", keys.python!, json);
  expect(ok.status).toBe(200);
  expect((await untilCounted(d, token, "python", 1)).completion_tokens).toBe(700);
});

test("a completion's batch of prompts (vLLM generates max_tokens for each) holds its limit once per prompt: five batches of three prompts at 300 tokens on a 600-token budget run one at a time", async () => {
  const calls = () => vllm.requests.filter((r) => r.path === "/v1/completions").length;
  const before = calls();
  const body = '{"model":"v:1b","prompt":["a","b","c"],"max_tokens":300}';
  const rs = await Promise.all(Array.from({ length: 5 }, () => post("/v1/completions", keys.batch!, body)));
  await Promise.all(rs.map((r) => r.arrayBuffer()));
  expect(rs.map((r) => r.status).sort()).toEqual([200, 429, 429, 429, 429]);
  expect(calls() - before).toBe(1);
}, 30_000);

test("llama.cpp's n_cmpl (its n, read before n) holds the limit once per completion: five calls of three completions at 300 tokens on a 600-token budget run one at a time", async () => {
  const calls = () => llama.requests.filter((r) => r.path === "/completion").length;
  const before = calls();
  const body = '{"model":"l:1b","prompt":"hi","n_predict":300,"n":1,"n_cmpl":3}';
  const rs = await Promise.all(Array.from({ length: 5 }, () => post("/completion", keys.copies!, body)));
  await Promise.all(rs.map((r) => r.arrayBuffer()));
  expect(rs.map((r) => r.status).sort()).toEqual([200, 429, 429, 429, 429]);
  expect(calls() - before).toBe(1);
}, 30_000);

test("a generation body of a key with a daily budget too large to hold (33 MiB, chunked) cannot hide its limit after the part the broker reads: 413, nothing upstream", async () => {
  const enc = new TextEncoder();
  const filler = new Uint8Array(1024 * 1024).fill(0x41);
  let left = 33;
  const stages = [enc.encode(`{"model":"v:1b","messages":[{"role":"user","content":"`)];
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (stages.length) return c.enqueue(stages.shift()!);
      if (left-- > 0) return c.enqueue(filler);
      if (left === -1) return c.enqueue(enc.encode(`"}],"max_tokens":100000}`));
      c.close();
    },
  });
  const before = vllm.requests.length;
  const r = await post("/v1/chat/completions", keys.large!, stream);
  expect(r.status).toBe(413);
  expect(((await r.json()) as { error: { message: string } }).error.message).toContain('too large for the broker to read the generation limit the API key "large" holds');
  expect(vllm.requests.length).toBe(before);
}, 30_000);

test("a compressed generation body of a key with a daily budget is a 415: its generation limit cannot be read", async () => {
  const before = go.requests.length;
  const r = await post("/api/chat", keys.gz!, Bun.gzipSync(new TextEncoder().encode(`{"model":"g:1b",${msgs},"stream":false,"options":{"num_predict":100000}}`)), { "content-encoding": "gzip" });
  expect(r.status).toBe(415);
  expect(((await r.json()) as { error: string }).error).toContain('it cannot read the generation limit the API key "gz" holds of its daily budget');
  expect(go.requests.length).toBe(before);
});

test("a compressed embedding or rerank body of a key with a daily budget is a 415 in the caller's dialect: its size, which the hold reads, is not the input's", async () => {
  const before = [go.requests.length, vllm.requests.length, llama.requests.length, lms.requests.length];
  const big = JSON.stringify("hi ".repeat(50_000));
  const cases: [path: string, body: string, shape: (j: any) => unknown][] = [
    ["/api/embed", `{"model":"g:1b","input":${big}}`, (j) => j.error],
    ["/v1/embeddings", `{"model":"g:1b","input":${big}}`, (j) => j.error?.message],
    ["/v1/rerank", `{"model":"l:1b","query":"hi","documents":[${big}]}`, (j) => j.error?.message],
  ];
  for (const [path, body, shape] of cases) {
    for (const [encoding, bytes] of [["gzip", Bun.gzipSync(new TextEncoder().encode(body))], ["deflate", Bun.deflateSync(new TextEncoder().encode(body))]] as const) {
      const r = await post(path, keys.gz!, bytes, { "content-encoding": encoding });
      const said = shape(await r.json());
      expect({ path, encoding, status: r.status, said: typeof said === "string" && said.includes(`Content-Encoding: ${encoding}`) && said.includes('the API key "gz" holds of its daily budget') }).toEqual({ path, encoding, status: 415, said: true });
    }
  }
  expect([go.requests.length, vllm.requests.length, llama.requests.length, lms.requests.length]).toEqual(before);
});

test("llama.cpp's own generation routes (/completion, and /chat/completions and /completions without /v1) and LM Studio's /api/v0 ones and its own /api/v1/chat are counted against a key's budget, streamed or whole", async () => {
  let n = 0;
  const counted = async (tokens: number) => expect((await untilCounted(d, token, "native", ++n)).completion_tokens).toBe(tokens);
  let r = await post("/completion", keys.native!, '{"model":"l:1b","prompt":"hi","n_predict":50}');
  expect(((await r.json()) as { tokens_predicted: number }).tokens_predicted).toBe(50);
  await counted(50);
  r = await post("/completion", keys.native!, '{"model":"l:1b","prompt":"hi","n_predict":40,"stream":true}');
  const text = await r.text();
  expect(text).toContain('"stop":true');
  // The stream ends as llama.cpp's own ends (its last event says stop): no error added to it.
  expect(text).not.toContain("error");
  await counted(90);
  r = await post("/chat/completions", keys.native!, `{"model":"l:1b",${msgs},"max_tokens":30,"stream":true}`);
  // The broker asked for the usage it counts, and took it out again: the client did not ask.
  expect(await r.text()).not.toContain('"usage"');
  await counted(120);
  r = await post("/completions", keys.native!, '{"model":"l:1b","prompt":"hi","max_tokens":20}');
  expect(r.status).toBe(200);
  await counted(140);
  // LM Studio's /api/v0 spelling of chat completions, streamed without asking for usage.
  r = await post("/api/v0/chat/completions", keys.native!, `{"model":"s:1b",${msgs},"max_tokens":10,"stream":true}`);
  expect(await r.text()).not.toContain('"usage"');
  await counted(150);
  // LM Studio's own chat (its v1 REST API), whole and streamed (named events, the last chat.end): its stats count.
  r = await post("/api/v1/chat", keys.native!, '{"model":"s:1b","input":"hi","max_output_tokens":25}');
  expect(((await r.json()) as { stats: { total_output_tokens: number } }).stats.total_output_tokens).toBe(25);
  await counted(175);
  r = await post("/api/v1/chat", keys.native!, '{"model":"s:1b","input":"hi","max_output_tokens":15,"stream":true}');
  const events = await r.text();
  expect(events).toContain("event: chat.end");
  expect(events).not.toContain("error");
  await counted(190);
}, 30_000);

test("llama.cpp's /completion holds its n_predict: five at once on a 600-token budget with 700 each run one at a time", async () => {
  await fiveAtOnce("native5", "/completion", '{"model":"l:1b","prompt":"hi","n_predict":700}', llama);
}, 30_000);

test("llama.cpp's own embeddings route and its rerank count their prompt tokens against a key's budget", async () => {
  const before = await untilCounted(d, token, "native", 0);
  let r = await post("/embeddings", keys.native!, '{"model":"l:1b","input":"hi"}');
  expect(r.status).toBe(200);
  await untilCounted(d, token, "native", before.requests + 1);
  r = await post("/rerank", keys.native!, '{"model":"l:1b","query":"q","documents":["a","b"]}');
  expect(((await r.json()) as { results: unknown[] }).results.length).toBe(2);
  // The fake's usage: 3 prompt tokens for the embedding, 11 for the rerank.
  const after = await untilCounted(d, token, "native", before.requests + 2);
  expect(after.prompt_tokens - before.prompt_tokens).toBe(3 + 11);
}, 30_000);
