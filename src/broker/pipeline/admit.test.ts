// Unit tests for the admit stage: the key's checks get the routed model and the alias, refusals come in the request's
// dialect with their headers, a generation request holds its budget until the request ends, and capture takes the body.
import { expect, test } from "bun:test";
import { kit, kitConfig, records, upstreams } from "../../../tests/helpers/pipeline-kit.ts";
import type { Admitted, GatewayService, KeyRecord, RequestModelNames } from "../../core/contracts.ts";
import { HttpError } from "../../core/http-error.ts";
import { ReplayBudget, unbounded } from "../replay-budget.ts";
import { admit } from "./admit.ts";
import { readRequest } from "./read-request.ts";

const keyRec = (over: Partial<KeyRecord> = {}): KeyRecord => ({ name: "editor", prefix: "c2l_abcd", hash: "", models: [], rpm: 0, tokens_per_day: 0, max_parallel: 0, expires_at: null, created_at: "", ...over });

function gateway(refuse: HttpError | null = null) {
  const calls: { model: string | null | undefined; alias?: string; request?: RequestModelNames }[] = [];
  const reserved: number[] = [];
  const generatesList: boolean[] = [];
  let released = 0;
  const g = {
    authorize(_a: Admitted, model: string | null | undefined, alias?: string, request?: RequestModelNames) {
      calls.push({ model, alias, request });
      if (refuse) throw refuse;
    },
    reserve(_a: Admitted, _body: Uint8Array | null, promptTokens: number, generates = true) {
      reserved.push(promptTokens);
      generatesList.push(generates);
      return () => void released++;
    },
  } as unknown as GatewayService;
  return { g, calls, reserved, generates: generatesList, released: () => released };
}

async function readied(path: string, body: unknown, admitted: Admitted, toml = "") {
  const k = kit(kitConfig(upstreams("a") + toml, ""));
  const ex = k.exchange(path);
  ex.admitted = admitted;
  expect(await readRequest(ex, new Request(`http://broker${path}`, { method: "POST", body: JSON.stringify(body) }), unbounded())).toBeNull();
  return { k, ex };
}

test("the key's checks see the model routed to, the alias the client sent, and the route's other names", async () => {
  const { ex } = await readied("/api/chat", { model: "gpt-4o", messages: [] }, { key: keyRec(), caller: "lan" }, `[[aliases]]\nname = "gpt-4o"\nmodel = "m:latest"\n`);
  const gw = gateway();
  expect(admit(ex, gw.g)).toBeNull();
  expect(gw.calls).toEqual([{ model: "m:latest", alias: "gpt-4o", request: { path: "/api/chat", method: "POST", others: [], opaque: null, complete: true, cut: null, encoding: null, blobs: [] } }]);
  expect(ex.keyName).toBe("editor");
  expect(ex.caller).toBe("lan");
});

test("a refusal is answered in the request's dialect with its Retry-After, and nothing is recorded", async () => {
  const { k, ex } = await readied("/v1/chat/completions", { model: "m", messages: [] }, { key: keyRec(), caller: "local" });
  const res = admit(ex, gateway(new HttpError("rate_limited", "the key's rpm is spent").after(7)).g)!;
  expect(res.status).toBe(429);
  expect(res.headers.get("retry-after")).toBe("7");
  expect(((await res.json()) as { error: { type: string; message: string } }).error).toMatchObject({ type: "rate_limit_error", message: "the key's rpm is spent" });
  expect(records(k)).toEqual([]);
});

test("a generation request of a key with a daily budget holds an estimate, given back once when the request ends", async () => {
  const { ex } = await readied("/api/generate", { model: "m", prompt: "x".repeat(400) }, { key: keyRec({ tokens_per_day: 1000 }), caller: "local" });
  const gw = gateway();
  expect(admit(ex, gw.g)).toBeNull();
  expect(gw.reserved.length).toBe(1);
  expect(gw.reserved[0]!).toBeGreaterThan(0);
  expect(gw.released()).toBe(0);
  ex.fail(502, "test");
  ex.fail(502, "again");
  expect(gw.released()).toBe(1);
});

test("without a budget, or on a route that generates nothing, no hold is taken; a bare broker (no gateway) admits all", async () => {
  const gw = gateway();
  const a = await readied("/api/generate", { model: "m", prompt: "x" }, { key: keyRec(), caller: "local" });
  expect(admit(a.ex, gw.g)).toBeNull();
  const b = await readied("/api/show", { model: "m" }, { key: keyRec({ tokens_per_day: 10 }), caller: "local" });
  expect(admit(b.ex, gw.g)).toBeNull();
  expect(gw.reserved).toEqual([]);
  const c = await readied("/api/generate", { model: "m" }, null as unknown as Admitted);
  expect(admit(c.ex, undefined)).toBeNull();
});

test("an embedding of a key with a daily budget holds its prompt's estimate (its size), and no generation", async () => {
  const gw = gateway();
  const body = { model: "m", input: "x".repeat(400) };
  const e = await readied("/api/embed", body, { key: keyRec({ tokens_per_day: 10 }), caller: "local" });
  expect(admit(e.ex, gw.g)).toBeNull();
  expect(gw.reserved).toEqual([Math.ceil(JSON.stringify(body).length / 4)]);
  expect(gw.generates).toEqual([false]);
});

test("with capture on, the body as sent upstream is kept for the inspector, cut at body_cap", async () => {
  const k = kit(kitConfig(upstreams("a") + `[dashboard]\ncapture_bodies = true\nbody_cap = 10\n`));
  const ex = k.exchange("/api/generate");
  await readRequest(ex, new Request("http://broker/api/generate", { method: "POST", body: JSON.stringify({ model: "m", prompt: "hello" }) }), unbounded());
  expect(admit(ex, undefined)).toBeNull();
  expect(ex.requestBody).toBe('{"model":"');
});

test("a key with a daily budget is refused (403, naming the route) on a generation route the broker neither holds nor counts; reads, counted routes and keys without a budget pass", async () => {
  const budget = { key: keyRec({ tokens_per_day: 1000 }), caller: "local" } as Admitted;
  // TGI's, koboldcpp's and SGLang's own generation routes, and vLLM's audio transcriptions: nothing counts what they generate.
  for (const path of ["/generate", "/generate_stream", "/api/v1/generate", "/api/extra/generate/stream", "/v1/audio/transcriptions", "/v1/audio/translations", "/v1/images/generations"]) {
    const { k, ex } = await readied(path, { model: "m", inputs: "x" }, budget);
    const gw = gateway();
    const res = admit(ex, gw.g);
    expect(res?.status).toBe(403);
    const text = await res!.text();
    // The caller's dialect: OpenAI's shape names the stable code; Ollama's is a bare {"error"}.
    if (path.startsWith("/v1/")) expect(JSON.parse(text).error.code).toBe("forbidden");
    expect(text).toContain(`POST ${path}`);
    expect(text).toContain("daily token budget");
    expect(gw.calls).toEqual([]);
    expect(gw.reserved).toEqual([]);
    expect(records(k)).toEqual([]);
    // The same route for a key without a budget goes on as before.
    const free = await readied(path, { model: "m", inputs: "x" }, { key: keyRec(), caller: "local" });
    expect(admit(free.ex, gateway().g)).toBeNull();
  }
  // Counted, or generating nothing: a budget key goes on.
  for (const path of ["/api/chat", "/v1/chat/completions", "/v1/embeddings", "/api/show", "/v1/messages/count_tokens", "/tokenize"]) {
    const { ex } = await readied(path, { model: "m", messages: [] }, budget);
    expect(admit(ex, gateway().g)).toBeNull();
  }
});

test("a key with a daily budget: a generation body not held whole (its limit may follow the part read) is 503 while the replay buffer is spent, never held at the default", async () => {
  const k = kit(kitConfig(upstreams("a"), ""));
  const ex = k.exchange("/v1/chat/completions");
  ex.admitted = { key: keyRec({ tokens_per_day: 100_000 }), caller: "local" };
  // Beyond the first 64 KiB read outside it, a spent replay buffer holds nothing: the body streams on, unread.
  const body = `{"model":"m","messages":[{"role":"user","content":"${"x".repeat(100_000)}"}],"max_tokens":90000}`;
  const chunked = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(new TextEncoder().encode(body)), c.close()) });
  const spent = new ReplayBudget(() => 0);
  expect(await readRequest(ex, new Request("http://broker/v1/chat/completions", { method: "POST", body: chunked }), spent)).toBeNull();
  expect(ex.bodyCut).toBe("budget");
  const gw = gateway();
  const res = admit(ex, gw.g)!;
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBe("1");
  expect(((await res.json()) as { error: { message: string } }).error.message).toContain('the API key "editor" has a daily token budget, so its body must be read whole');
  expect(gw.reserved).toEqual([]);
});
