// Integration: the broker in front of two fake upstreams — routing, failover, broken streams, cancellation, headers.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { readAll, startBroker, upstreamToml, type TestBroker } from "./harness.ts";

const MODEL_A = "alpha:latest";
const MODEL_B = "beta:1b";
const SHARED = "shared:7b";
let a: FakeOllama;
let b: FakeOllama;
let tb: TestBroker | null = null;

async function twoUpstreams(extraA = "", extraB = ""): Promise<TestBroker> {
  tb = await startBroker(
    `[health]\ninterval = "60s"\ndown_interval = "60s"\n` +
      upstreamToml("A", a.url, `priority = 1\n${extraA}`) +
      upstreamToml("B", b.url, `priority = 2\n${extraB}`),
  );
  await tb.waitState("A", "up");
  await tb.waitState("B", "up");
  return tb;
}

function post(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" }, ...init });
}

beforeAll(async () => {
  a = await startFakeOllama({ models: [MODEL_A, SHARED], tokens: 3 });
  b = await startFakeOllama({ models: [MODEL_B, SHARED], tokens: 3 });
});
afterEach(async () => {
  await tb?.stop();
  tb = null;
  for (const f of [a, b]) {
    f.requests.length = 0;
    f.aborts.length = 0;
    Object.assign(f.options, { failWith503: false, dieAfterTokens: undefined, tokenDelayMs: 0, tokens: 3 });
    f.setHealthy(true);
  }
});
afterAll(async () => {
  await a.stop();
  await b.stop();
});

const chats = (f: FakeOllama) => f.requests.filter((r) => r.path === "/api/chat");

describe("routing", () => {
  test("a request goes to the upstream that serves its model, whatever the priority", async () => {
    const t = await twoUpstreams();
    const r = await post(`${t.url}/api/chat`, { model: MODEL_B, messages: [], stream: false });
    expect(r.status).toBe(200);
    expect((await r.json()).model).toBe(MODEL_B);
    expect(chats(b).length).toBe(1);
    expect(chats(a).length).toBe(0);
    // "alpha" means "alpha:latest", as in Ollama.
    expect((await post(`${t.url}/api/chat`, { model: "alpha", messages: [], stream: false })).status).toBe(200);
    expect(chats(a).length).toBe(1);
  });

  test("a model both serve goes to the higher priority (lower number), and follows a priority change", async () => {
    const t = await twoUpstreams();
    await (await post(`${t.url}/api/chat`, { model: SHARED, messages: [], stream: false })).arrayBuffer();
    expect([chats(a).length, chats(b).length]).toEqual([1, 0]);
    const next = structuredClone(t.config);
    next.upstreams[0]!.priority = 5;
    await t.broker.apply(next, t.config);
    await t.waitState("A", "up");
    await (await post(`${t.url}/api/chat`, { model: SHARED, messages: [], stream: false })).arrayBuffer();
    expect([chats(a).length, chats(b).length]).toEqual([1, 1]);
  });

  test("/api/tags and /v1/models merge both upstreams, without duplicates", async () => {
    const t = await twoUpstreams();
    const tags = (await (await fetch(`${t.url}/api/tags`)).json()) as { models: { name: string }[] };
    expect(tags.models.map((m) => m.name).sort()).toEqual([MODEL_A, MODEL_B, SHARED].sort());
    const v1 = (await (await fetch(`${t.url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(v1.data.map((m) => m.id).sort()).toEqual([MODEL_A, MODEL_B, SHARED].sort());
    expect(t.broker.models().find((m) => m.name === SHARED)!.upstreams.sort()).toEqual(["A", "B"]);
    // Listings show in the request inspector too.
    const recs = t.seen.filter((e) => e.type === "request.completed").map((e) => e.data as { path: string; status: number; upstream: string | null });
    expect(recs.map((r) => [r.path, r.status, r.upstream])).toEqual([
      ["/api/tags", 200, null],
      ["/v1/models", 200, null],
    ]);
  });
});

describe("failover before the first byte", () => {
  test("the first upstream stopped (connection refused) → the next one answers", async () => {
    const dead = await startFakeOllama({ models: [SHARED] });
    tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("dead", dead.url, "priority = 1") + upstreamToml("B", b.url, "priority = 2"));
    await tb.waitState("dead", "up");
    await dead.stop();
    const r = await post(`${tb.url}/api/chat`, { model: SHARED, messages: [], stream: false });
    expect(r.status).toBe(200);
    expect(chats(b).length).toBe(1);
    const done = tb.seen.filter((e) => e.type === "request.completed").map((e) => e.data as { upstream: string; status: number });
    expect(done.at(-1)).toMatchObject({ upstream: "B", status: 200 });
    expect(tb.broker.upstream("dead")!.metrics.errors).toBe(1);
  });

  test("a blackholed upstream (no TCP handshake) fails after connect_timeout, not first_byte_timeout", async () => {
    const { blackhole } = await import("./blackhole.ts");
    const hole = await blackhole();
    try {
      tb = await startBroker(`[health]\ninterval = "60s"\ntimeout = "10s"\n` + upstreamToml("hole", `http://127.0.0.1:${hole.port}`, `connect_timeout = "300ms"\nfirst_byte_timeout = "60s"`));
      const t0 = performance.now();
      const r = await post(`${tb.url}/api/generate`, { model: SHARED, prompt: "hi", stream: false });
      expect(r.status).toBe(502);
      expect((await r.json()).error).toBe('upstream "hole" could not be reached: no connection within 300ms (connect_timeout)');
      expect(performance.now() - t0).toBeLessThan(3000);
    } finally {
      hole.close();
    }
  });

  test("the first upstream answers 503 → the next one answers; with one attempt allowed the 503 passes through", async () => {
    a.options.failWith503 = true;
    const t = await twoUpstreams();
    const r = await post(`${t.url}/api/chat`, { model: SHARED, messages: [], stream: false });
    expect(r.status).toBe(200);
    expect([chats(a).length, chats(b).length]).toEqual([1, 1]);
    const next = structuredClone(t.config);
    next.proxy.max_attempts = 1;
    await t.broker.apply(next, t.config);
    const r2 = await post(`${t.url}/api/chat`, { model: SHARED, messages: [], stream: false });
    expect(r2.status).toBe(503);
    expect((await r2.json()).error).toContain("server busy");
  });

  test("no response headers within first_byte_timeout → the attempt is aborted and the next upstream answers", async () => {
    a.options.tokens = 100;
    a.options.tokenDelayMs = 50; // stream:false: headers only after 5 s
    const t = await twoUpstreams(`first_byte_timeout = "1s"`);
    const t0 = performance.now();
    const r = await post(`${t.url}/api/generate`, { model: SHARED, prompt: "hi", stream: false });
    expect(r.status).toBe(200);
    expect((await r.json()).response).toBe("tok0 tok1 tok2 ");
    expect(performance.now() - t0).toBeLessThan(4000);
    await a.waitForAborts(1, 1000); // the slow upstream's generation was cancelled
    expect(t.broker.upstream("A")!.lastError ?? "").not.toContain("refused");
    const rec = t.seen.filter((e) => e.type === "request.completed").at(-1)!.data as { upstream: string };
    expect(rec.upstream).toBe("B");
  });

  test("every upstream refusing → 502 with an Ollama error body naming the upstreams", async () => {
    const d1 = await startFakeOllama();
    const u1 = d1.url;
    await d1.stop();
    tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("gone", u1));
    const r = await post(`${tb.url}/api/generate`, { model: "x", prompt: "hi" });
    expect(r.status).toBe(502);
    expect((await r.json()).error).toMatch(/upstream "gone" could not be reached/);
    const v1 = await post(`${tb.url}/v1/chat/completions`, { model: "x", messages: [] });
    expect(v1.status).toBe(502);
    expect((await v1.json()).error.message).toMatch(/could not be reached/);
  });
});

describe("after the first byte", () => {
  test("an upstream dying mid-stream ends the NDJSON stream with an error line; the broker stays healthy", async () => {
    a.options.tokens = 20;
    a.options.tokenDelayMs = 5;
    a.options.dieAfterTokens = 4;
    const t = await twoUpstreams();
    const r = await post(`${t.url}/api/chat`, { model: MODEL_A, messages: [] });
    expect(r.status).toBe(200);
    const { text, error } = await readAll(r);
    expect(error).toBeNull(); // closed cleanly, not reset
    const lines = text.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.at(-1).error).toMatch(/upstream "A" broke off the response/);
    expect(lines.slice(0, -1).every((l) => l.done === false)).toBe(true);
    // No retry after bytes reached the client.
    expect(chats(b).length).toBe(0);
    // The broker still serves.
    a.options.dieAfterTokens = undefined;
    const ok = await post(`${t.url}/api/chat`, { model: MODEL_A, messages: [], stream: false });
    expect(ok.status).toBe(200);
    expect(t.broker.upstream("A")!.metrics.errors).toBe(1);
  });

  test("an SSE stream broken off ends with an error event", async () => {
    a.options.tokens = 20;
    a.options.tokenDelayMs = 5;
    a.options.dieAfterTokens = 3;
    const t = await twoUpstreams();
    const r = await post(`${t.url}/v1/chat/completions`, { model: MODEL_A, messages: [], stream: true });
    const { text, error } = await readAll(r);
    expect(error).toBeNull();
    expect(text).toMatch(/\n\nevent: error\ndata: \{"error":\{"message":"upstream \\"A\\" broke off the response/);
    expect(text.endsWith("\n\n")).toBe(true);
  });
});

describe("concurrency", () => {
  test("200 concurrent streams arrive complete and in order", async () => {
    a.options.tokens = 20;
    a.options.tokenDelayMs = 2;
    const t = await twoUpstreams();
    const texts = await Promise.all(
      Array.from({ length: 200 }, () => post(`${t.url}/api/generate`, { model: MODEL_A, prompt: "hi" }).then((r) => r.text())),
    );
    for (const text of texts) {
      const lines = text.trim().split("\n").map((l) => JSON.parse(l));
      expect(lines.length).toBe(21);
      expect(lines.slice(0, 20).map((l) => l.response).join("")).toBe(Array.from({ length: 20 }, (_, i) => `tok${i} `).join(""));
      expect(lines[20]).toMatchObject({ done: true, eval_count: 20 });
    }
    expect(t.broker.upstream("A")!.metrics.totalRequests).toBe(200);
    expect(t.broker.upstream("A")!.metrics.errors).toBe(0);
  });
});

describe("cancellation", () => {
  for (const [label, path, body] of [
    ["NDJSON", "/api/chat", { model: MODEL_A, messages: [] }],
    ["SSE", "/v1/chat/completions", { model: MODEL_A, messages: [], stream: true }],
  ] as const) {
    test(`a client that goes away mid-stream (${label}) aborts the upstream within 100 ms`, async () => {
      a.options.tokens = 1000;
      a.options.tokenDelayMs = 20;
      const t = await twoUpstreams();
      const ac = new AbortController();
      const r = await post(`${t.url}${path}`, body, { signal: ac.signal });
      const reader = r.body!.getReader();
      expect((await reader.read()).done).toBe(false);
      const t0 = performance.now();
      ac.abort();
      const [abort] = await a.waitForAborts(1, 3000);
      expect(abort!.path).toBe(path);
      expect(abort!.time - t0).toBeLessThan(100);
    });
  }

  test("a client that goes away while a stream:false answer is pending aborts the upstream within 100 ms", async () => {
    a.options.tokens = 1000;
    a.options.tokenDelayMs = 10;
    const t = await twoUpstreams();
    const ac = new AbortController();
    const p = post(`${t.url}/api/generate`, { model: MODEL_A, prompt: "hi", stream: false }, { signal: ac.signal }).catch((e) => e);
    while (a.requests.filter((r) => r.path === "/api/generate").length === 0) await Bun.sleep(5);
    await Bun.sleep(50);
    const t0 = performance.now();
    ac.abort();
    const [abort] = await a.waitForAborts(1, 3000);
    expect(abort!.time - t0).toBeLessThan(100);
    expect(String(await p)).toMatch(/abort/i);
  });
});

describe("headers", () => {
  test("Host is rewritten to the upstream's, Origin and client credentials are dropped, the upstream's auth is added", async () => {
    const secrets = { get: async (n: string) => (n === "b-key" ? "sk-upstream-b-123456" : null) };
    tb = await startBroker(
      `[health]\ninterval = "60s"\n` + upstreamToml("A", a.url, "priority = 1") + upstreamToml("B", b.url, `priority = 2\nauth_secret = "b-key"`),
      { secrets: secrets as never },
    );
    await tb.waitState("A", "up");
    await tb.waitState("B", "up");
    const port = new URL(tb.url).port;
    const r = await post(`${tb.url}/api/chat`, { model: MODEL_B, messages: [], stream: false }, {
      headers: { host: `localhost:${port}`, origin: "http://localhost:3000", authorization: "Bearer client-secret", cookie: "s=1", "x-trace": "t1" },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    const h = chats(b).at(-1)!.headers;
    expect(h.host).toBe(`127.0.0.1:${b.port}`);
    expect(h.origin).toBeUndefined();
    expect(h.cookie).toBeUndefined();
    expect(h.authorization).toBe("Bearer sk-upstream-b-123456");
    expect(h["x-trace"]).toBe("t1");
    // The client's own credentials never reach an upstream without configured auth either.
    await (await post(`${tb.url}/api/chat`, { model: MODEL_A, messages: [], stream: false }, { headers: { authorization: "Bearer client-secret" } })).arrayBuffer();
    expect(chats(a).at(-1)!.headers.authorization).toBeUndefined();
  });

  test("an auth_secret not stored yet is logged by its name with the command that stores it (the name is not a secret)", async () => {
    const { setLogSink } = await import("../../src/core/log.ts");
    const lines: string[] = [];
    setLogSink((l) => void lines.push(l));
    try {
      tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("B", b.url, `auth_secret = "workstation-key"`), { secrets: { get: async () => null } as never });
      await tb.waitState("B", "up");
      const line = lines.find((l) => l.includes("not found; sending no credentials"));
      expect(line).toContain('auth secret "workstation-key" not found');
      expect(line).toContain("`cloudtolocalllm-tunnel secret set workstation-key`");
      expect(line).not.toContain("[redacted]");
    } finally {
      setLogSink((l) => void process.stderr.write(l + "\n"));
    }
  });

  test("an auth_secret not stored yet is logged once, not at every health check; again only after it was stored and removed", async () => {
    const { setLogSink } = await import("../../src/core/log.ts");
    const lines: string[] = [];
    setLogSink((l) => void lines.push(l));
    let stored: string | null = null;
    let asked = 0;
    const secrets = { get: async () => (asked++, stored) };
    const missing = () => lines.filter((l) => l.includes('auth secret "spam-key" not found')).length;
    try {
      tb = await startBroker(`[health]\ninterval = "100ms"\n` + upstreamToml("B", b.url, `auth_secret = "spam-key"`), { secrets: secrets as never });
      await tb.waitState("B", "up");
      const until = async (n: number) => {
        const from = asked;
        while (asked < from + n) await Bun.sleep(20);
      };
      await until(5);
      expect(missing()).toBe(1);
      stored = "sk-spam-123456";
      await until(3);
      expect(missing()).toBe(1);
      stored = null;
      await until(5);
      expect(missing()).toBe(2);
    } finally {
      setLogSink((l) => void process.stderr.write(l + "\n"));
    }
  });

  test("a secret store that cannot be read (a locked keyring) is logged once, not at every health check", async () => {
    const { setLogSink } = await import("../../src/core/log.ts");
    const lines: string[] = [];
    setLogSink((l) => void lines.push(l));
    let asked = 0;
    const secrets = { get: async () => (asked++, Promise.reject(new Error("the keyring is locked"))) };
    try {
      tb = await startBroker(`[health]\ninterval = "100ms"\n` + upstreamToml("B", b.url, `auth_secret = "locked-key"`), { secrets: secrets as never });
      await tb.waitState("B", "up");
      while (asked < 5) await Bun.sleep(20);
      expect(lines.filter((l) => l.includes('auth secret "locked-key" could not be read')).length).toBe(1);
    } finally {
      setLogSink((l) => void process.stderr.write(l + "\n"));
    }
  });

  test("an upstream's error answer that quotes the credential the broker sent (auth_secret) reaches the caller with it [redacted]; a success answer is relayed untouched", async () => {
    const SECRET = "sk-operator-7f3a9c";
    // In front of fake B: its chat refuses quoting the Authorization it got (as some gateways do), its generate echoes it in a 200.
    const quoting = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const path = new URL(req.url).pathname;
        const auth = req.headers.get("authorization") ?? "";
        if (path === "/api/chat") return Response.json({ error: `invalid api key: ${auth} (key "${auth.slice(7)}")` }, { status: 401 });
        if (path === "/v1/chat/completions") return new Response(`{"error":{"message":"bad key ${JSON.stringify(auth).slice(1, -1)}"}}`, { status: 403, headers: { "content-type": "application/json" } });
        if (path === "/api/generate") return Response.json({ model: MODEL_B, response: `you sent ${auth}`, done: true, eval_count: 1 });
        return fetch(`${b.url}${path}`, { method: req.method, headers: req.headers, body: req.body });
      },
    });
    try {
      tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("B", `http://127.0.0.1:${quoting.port}`, `auth_secret = "b-key"`), { secrets: { get: async () => SECRET } as never });
      await tb.waitState("B", "up");
      const refused = await post(`${tb.url}/api/chat`, { model: MODEL_B, messages: [], stream: false });
      expect(refused.status).toBe(401);
      const body = await refused.text();
      expect(body).not.toContain(SECRET);
      expect(JSON.parse(body)).toEqual({ error: 'invalid api key: Bearer [redacted] (key "[redacted]")' });
      const v1 = await post(`${tb.url}/v1/chat/completions`, { model: MODEL_B, messages: [] });
      expect(v1.status).toBe(403);
      expect(await v1.text()).toBe('{"error":{"message":"bad key Bearer [redacted]"}}');
      // Never the success path: a 2xx body is the upstream's, byte for byte.
      const ok = await post(`${tb.url}/api/generate`, { model: MODEL_B, prompt: "hi", stream: false });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { response: string }).response).toBe(`you sent Bearer ${SECRET}`);
    } finally {
      quoting.stop(true);
    }
  });

  test("an upstream's error answer that quotes the credential in its headers (WWW-Authenticate, an echo) reaches the caller with it [redacted] there too", async () => {
    const SECRET = "sk-operator-8e4b0d";
    const quoting = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const path = new URL(req.url).pathname;
        const auth = req.headers.get("authorization") ?? "";
        // RFC 6750's error_description is free text: a gateway may quote what it refused there, or echo it back.
        const quoted = { "www-authenticate": `Bearer error="invalid_token", error_description="key ${auth.slice(7)} is revoked"`, "x-echo-authorization": auth };
        if (path === "/api/chat") return Response.json({ error: "unauthorized" }, { status: 401, headers: quoted });
        if (path === "/v1/chat/completions") return new Response(new Blob(['{"error":', '{"message":"unauthorized"}}']).stream(), { status: 401, headers: { ...quoted, "content-type": "application/json" } });
        if (path === "/api/generate") return Response.json({ model: MODEL_B, response: "ok", done: true, eval_count: 1 }, { headers: { "x-echo-authorization": auth } });
        return fetch(`${b.url}${path}`, { method: req.method, headers: req.headers, body: req.body });
      },
    });
    try {
      tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("B", `http://127.0.0.1:${quoting.port}`, `auth_secret = "b-key"`), { secrets: { get: async () => SECRET } as never });
      await tb.waitState("B", "up");
      for (const path of ["/api/chat", "/v1/chat/completions"]) {
        const refused = await post(`${tb.url}${path}`, { model: MODEL_B, messages: [], stream: false });
        expect(refused.status).toBe(401);
        await refused.text();
        expect(refused.headers.get("www-authenticate")).toBe('Bearer error="invalid_token", error_description="key [redacted] is revoked"');
        expect(refused.headers.get("x-echo-authorization")).toBe("Bearer [redacted]");
        expect([...refused.headers].join("\n")).not.toContain(SECRET);
      }
      // A 2xx answer is relayed as it came, headers included (nothing is looked at on the success path).
      const ok = await post(`${tb.url}/api/generate`, { model: MODEL_B, prompt: "hi", stream: false });
      expect(ok.headers.get("x-echo-authorization")).toBe(`Bearer ${SECRET}`);
      await ok.text();
    } finally {
      quoting.stop(true);
    }
  });

  test("upstream connections are kept alive and reused", async () => {
    const t = await twoUpstreams();
    for (let i = 0; i < 5; i++) await (await post(`${t.url}/api/chat`, { model: MODEL_A, messages: [], stream: i % 2 === 0 })).text();
    const ports = new Set(chats(a).map((r) => r.remotePort));
    expect(chats(a).length).toBe(5);
    expect(ports.size).toBe(1);
  });

  test("a foreign Host or Origin is refused by the broker itself (DNS rebinding, web pages)", async () => {
    const t = await twoUpstreams();
    const port = new URL(t.url).port;
    expect((await fetch(`${t.url}/api/version`, { headers: { host: `evil.example:${port}` } })).status).toBe(403);
    expect((await fetch(`${t.url}/api/version`, { headers: { origin: "https://evil.example" } })).status).toBe(403);
    expect((await fetch(`${t.url}/api/version`, { headers: { origin: "http://127.0.0.1:8080" } })).status).toBe(200);
    expect(a.requests.filter((r) => r.path === "/api/version" && r.headers.origin).length).toBe(0);
  });

  test("preflights: Private Network Access is granted to an allowed origin only; Origin null (a file:// page in Chromium, any site's sandboxed iframe) is refused unless listed", async () => {
    tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("A", a.url), {}, `allowed_origins = ["https://app.example.com"]`);
    await tb.waitState("A", "up");
    const preflight = (origin: string) =>
      fetch(`${tb!.url}/api/chat`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type", "access-control-request-private-network": "true" } });
    for (const origin of ["https://app.example.com", "http://localhost:3000"]) {
      const ok = await preflight(origin);
      expect(ok.status).toBe(204);
      expect(ok.headers.get("access-control-allow-origin")).toBe(origin);
      expect(ok.headers.get("access-control-allow-private-network")).toBe("true");
    }
    for (const origin of ["https://evil.example", "null"]) {
      const refused = await preflight(origin);
      expect(refused.status).toBe(403);
      expect(refused.headers.get("access-control-allow-origin")).toBeNull();
      expect(refused.headers.get("access-control-allow-private-network")).toBeNull();
    }
    // Not asked, not said.
    const plain = await fetch(`${tb.url}/api/chat`, { method: "OPTIONS", headers: { origin: "http://localhost:3000", "access-control-request-method": "POST" } });
    expect(plain.headers.get("access-control-allow-private-network")).toBeNull();
  });
});
