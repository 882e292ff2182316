// The model a key may use, through a real daemon (locally and through a real relay): the model decided as Ollama reads
// the body, model management only with the key's permission, listings per key, and every c2l_ key in any header checked.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { BUN, REPO, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

const ALLOWED = "llama3.2:1b";
const FORBIDDEN = "qwen2.5:0.5b";
let fake: FakeOllama;
let relay: RelayProc;
let d: DaemonProc;
let broker: string;
/** Keys: "editor" may use llama3* only; "admin" the same plus model management; "open" every model, no management. */
const keys: Record<"editor" | "admin" | "open", string> = { editor: "", admin: "", open: "" };

beforeAll(async () => {
  // /api/ps of the fake lists its first model: the forbidden one, so a key's listing must drop it.
  fake = await startFakeOllama({ models: [FORBIDDEN, ALLOWED], tokens: 2 });
  relay = await startRelayProc(relayToml());
  const aliases = `[[aliases]]\nname = "gpt-4o-mini"\nmodel = "${ALLOWED}"\nshow = true\n[[aliases]]\nname = "secret"\nmodel = "${FORBIDDEN}"\nshow = true\n`;
  d = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }) + aliases);
  await d.waitFor(/broker: .*listening.* url=/);
  broker = d.urls.broker!;
  const key = (...args: string[]) => {
    const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", "create", ...args], { env: d.env, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
    return r.stdout.toString().trim();
  };
  keys.editor = key("editor", "--models", "llama3*");
  keys.admin = key("admin", "--models", "llama3*", "--allow-model-management");
  keys.open = key("open");
  await until(async () => (await fetch(`${broker}/api/tags`, { headers: { "x-api-key": keys.open } })).status === 200, 5000, "the daemon to see the keys");
}, 60_000);

afterAll(async () => {
  await d?.stop();
  await relay?.stop();
  await fake?.stop();
  cleanup(relay?.dir, d?.home);
});

type Sent = { status: number; body: any; code: string | null; reached: boolean };
/** POSTs `body` as sent (no re-encoding), and says whether any request reached the upstream. */
async function post(path: string, body: string | ReadableStream<Uint8Array>, headers: Record<string, string>, base = broker): Promise<Sent> {
  const before = fake.requests.filter((r) => r.path === path).length;
  const r = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body, ...(typeof body === "string" ? {} : { duplex: "half" }) } as RequestInit);
  const text = await r.text();
  let json: any = text;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, body: json, code: r.headers.get("x-c2l-error-code"), reached: fake.requests.filter((x) => x.path === path).length > before };
}
const asKey = (k: string) => ({ authorization: `Bearer ${k}` });

/** Each body names the allowed model somewhere and another one where the upstream reads it (issue 21). */
const DIFFERENTIAL: [string, string, number][] = [
  ["a duplicate key (Go and Python take the last)", `{"model":"${ALLOWED}","model":"${FORBIDDEN}","stream":false,%}`, 400],
  ["another case after the allowed one (Go ignores case)", `{"model":"${ALLOWED}","MODEL":"${FORBIDDEN}","stream":false,%}`, 400],
  ["an escaped key after the allowed one", `{"model":"${ALLOWED}","\\u006dodel":"${FORBIDDEN}","stream":false,%}`, 400],
  ["a spelling Go's json/v2 folds onto model (it ignores underscores)", `{"model":"${ALLOWED}","mo_del":"${FORBIDDEN}","stream":false,%}`, 400],
  ["the allowed model nested in options before the real one", `{"options":{"model":"${ALLOWED}"},"model":"${FORBIDDEN}","stream":false,%}`, 403],
  ["the allowed model in a message before the real one", `{"xs":[{"model":"${ALLOWED}"}],"model":"${FORBIDDEN}","stream":false,%}`, 403],
];
const ROUTES: [string, string][] = [
  ["/api/chat", `"messages":[{"role":"user","content":"hi"}]`],
  ["/api/generate", `"prompt":"hi"`],
  ["/v1/chat/completions", `"messages":[{"role":"user","content":"hi"}]`],
];

describe("the model a key may use is the model the upstream runs", () => {
  for (const [path, rest] of ROUTES)
    test(`${path}: every differential body is refused before the upstream, in the caller's dialect`, async () => {
      for (const [what, body, status] of DIFFERENTIAL) {
        const r = await post(path, body.replace("%", rest), asKey(keys.editor));
        expect({ what, status: r.status, reached: r.reached }).toEqual({ what, status, reached: false });
        const message = path.startsWith("/v1/") ? r.body.error.message : r.body.error;
        expect(typeof message).toBe("string");
        if (status === 400) expect(message).toMatch(/"model" 2 times|names "model" also as/);
        else expect(message).toBe(`the API key "editor" may not use model "${FORBIDDEN}" (allowed: llama3*)`);
        if (path.startsWith("/v1/")) expect(r.body.error.code).toBe(status === 400 ? "bad_request" : "forbidden");
      }
      // The same bodies without a key (this machine) are refused too when ambiguous: no upstream can tell which model.
      const local = await post(path, DIFFERENTIAL[0]![1].replace("%", rest), {});
      expect([local.status, local.reached]).toEqual([400, false]);
      // And the honest body passes.
      const ok = await post(path, `{"model":"${ALLOWED}","stream":false,${rest}}`, asKey(keys.editor));
      expect([ok.status, ok.reached]).toEqual([200, true]);
    });

  test("a chunked body (no Content-Length) is read the same way", async () => {
    const enc = new TextEncoder();
    const parts = [`{"model":"${ALLOWED}",`, `"messages":[{"role":"user","content":"hi"}],"stream":false,`, `"MODEL":"${FORBIDDEN}"}`];
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        const p = parts.shift();
        if (p === undefined) c.close();
        else c.enqueue(enc.encode(p));
      },
    });
    const r = await post("/api/chat", stream, asKey(keys.editor));
    expect([r.status, r.reached]).toEqual([400, false]);
    expect(r.body.error).toContain('names "model" also as "MODEL"');
  });

  test("a chunked body too large to hold (33 MiB) cannot hide its model after the part the broker reads: 413 for a key with a model list", async () => {
    const enc = new TextEncoder();
    const filler = new Uint8Array(1024 * 1024).fill(0x41);
    let left = 33;
    const stages = [enc.encode(`{"model":"${ALLOWED}","stream":false,"prompt":"`)];
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (stages.length) return c.enqueue(stages.shift()!);
        if (left-- > 0) return c.enqueue(filler);
        if (left === -1) return c.enqueue(enc.encode(`","model":"${FORBIDDEN}"}`));
        c.close();
      },
    });
    const r = await post("/api/generate", stream, asKey(keys.editor));
    expect([r.status, r.code, r.reached]).toEqual([413, "payload_too_large", false]);
    expect(r.body.error).toContain("too large for the broker to read which model it names");
  }, 30_000);

  test("an alias acts on the same field: the alias's model is checked, and the rewritten body reaches the upstream", async () => {
    const ok = await post("/api/chat", `{"model":"gpt-4o-mini","stream":false,"messages":[]}`, asKey(keys.editor));
    expect(ok.status).toBe(200);
    expect((fake.requests.findLast((x) => x.path === "/api/chat")!.json as { model: string }).model).toBe(ALLOWED);
    const no = await post("/api/chat", `{"model":"secret","stream":false,"messages":[]}`, asKey(keys.editor));
    expect([no.status, no.reached]).toEqual([403, false]);
    const dup = await post("/api/chat", `{"model":"gpt-4o-mini","Model":"secret","messages":[]}`, asKey(keys.editor));
    expect([dup.status, dup.reached]).toEqual([400, false]);
  });
});

describe("model management needs the key's permission, and every model it touches is checked", () => {
  const MANAGEMENT: [string, string][] = [
    // The case: copy a forbidden model under an allowed name (an allowed "model" field added for the old check).
    ["/api/copy", `{"source":"${FORBIDDEN}","destination":"llama3.2:stolen","model":"${ALLOWED}"}`],
    ["/api/create", `{"model":"llama3.2:mine","from":"${FORBIDDEN}"}`],
    ["/api/pull", `{"name":"${FORBIDDEN}","model":""}`],
    ["/api/push", `{"model":"${ALLOWED}","name":"${FORBIDDEN}"}`],
    ["/api/delete", `{"name":"${FORBIDDEN}"}`],
  ];

  test("a key without the permission gets 403 on every management route, even with models it may use", async () => {
    for (const k of ["editor", "open"] as const)
      for (const [path] of MANAGEMENT) {
        const r = await post(path, `{"model":"${ALLOWED}","source":"${ALLOWED}","destination":"llama3.2:x"}`, asKey(keys[k]));
        expect({ path, status: r.status, reached: r.reached }).toEqual({ path, status: 403, reached: false });
        expect(r.body.error).toBe(`the API key "${k}" may not manage models (${path}); create a key with --allow-model-management for that`);
      }
  });

  test("a key with the permission: each model name the body touches must be on its list", async () => {
    for (const [path, body] of MANAGEMENT) {
      const r = await post(path, body, asKey(keys.admin));
      expect({ path, status: r.status, reached: r.reached }).toEqual({ path, status: 403, reached: false });
      expect(r.body.error).toBe(`the API key "admin" may not use model "${FORBIDDEN}" (allowed: llama3*)`);
    }
    const copy = await post("/api/copy", `{"source":"${ALLOWED}","destination":"llama3.2:mine"}`, asKey(keys.admin));
    expect([copy.status, copy.reached]).toEqual([200, true]);
    const old = await post("/api/create", `{"name":"llama3.2:mine","modelfile":"FROM ${FORBIDDEN}"}`, asKey(keys.admin));
    expect([old.status, old.reached]).toEqual([403, false]);
    expect(old.body.error).toContain('"modelfile" names models and files the broker does not read');
  });

  test("an escaped or otherwise respelled path is the route the upstream serves: /api/%63opy is /api/copy", async () => {
    for (const path of ["/api/%63opy", "/api%2Fcopy", "/api/copy/", "//api/copy"]) {
      const open = await post(path, `{"source":"${FORBIDDEN}","destination":"llama3.2:x"}`, asKey(keys.open));
      expect({ path, status: open.status }).toEqual({ path, status: 403 });
      expect(open.body.error).toContain("may not manage models (/api/copy)");
      const admin = await post(path, `{"model":"${ALLOWED}","source":"${FORBIDDEN}","destination":"llama3.2:x"}`, asKey(keys.admin));
      expect({ path, status: admin.status, error: admin.body.error }).toEqual({ path, status: 403, error: `the API key "admin" may not use model "${FORBIDDEN}" (allowed: llama3*)` });
    }
    expect(fake.requests.filter((r) => r.path !== "/api/copy" && r.path.includes("opy"))).toEqual([]);
  });

  test("a compressed body (Content-Encoding) is not read by the broker, so a key with a model list gets 415", async () => {
    const zipped = Bun.gzipSync(new TextEncoder().encode(`{"model":"${FORBIDDEN}","messages":[],"stream":false}`));
    const r = await fetch(`${broker}/api/chat`, { method: "POST", headers: { ...asKey(keys.editor), "content-encoding": "gzip" }, body: zipped });
    expect([r.status, r.headers.get("x-c2l-error-code")]).toEqual([415, "unsupported_media_type"]);
    // A body that looks like an allowed request but says it is compressed is not let through on its looks either.
    const looks = await post("/api/chat", `{"model":"${ALLOWED}","messages":[],"stream":false}`, { ...asKey(keys.editor), "content-encoding": "br" });
    expect([looks.status, looks.reached]).toEqual([415, false]);
  });

  test("without a key (this machine, require_key auto) management works as before", async () => {
    const r = await post("/api/copy", `{"source":"${FORBIDDEN}","destination":"x:1"}`, {});
    expect([r.status, r.reached]).toEqual([200, true]);
  });
});

describe("listings show only the key's models", () => {
  const get = async (path: string, headers: Record<string, string>) => (await fetch(`${broker}${path}`, { headers })).json() as Promise<any>;

  test("/api/tags, /api/ps and /v1/models for a key with a model list: its models and the aliases it may use", async () => {
    const tags = await get("/api/tags", asKey(keys.editor));
    expect(tags.models.map((m: { name: string }) => m.name).sort()).toEqual(["gpt-4o-mini", ALLOWED]);
    const ps = await get("/api/ps", asKey(keys.editor));
    expect(ps.models).toEqual([]); // the fake has the forbidden model loaded
    const v1 = await get("/v1/models", asKey(keys.editor));
    expect(v1.data.map((m: { id: string }) => m.id).sort()).toEqual(["gpt-4o-mini", ALLOWED]);
    // As the official clients list them.
    expect((await new Ollama({ host: broker, headers: asKey(keys.editor) }).list()).models.map((m) => m.name).sort()).toEqual(["gpt-4o-mini", ALLOWED]);
    const oa: string[] = [];
    for await (const m of new OpenAI({ baseURL: `${broker}/v1`, apiKey: keys.editor }).models.list()) oa.push(m.id);
    expect(oa.sort()).toEqual(["gpt-4o-mini", ALLOWED]);
  });

  test("Anthropic's models.list() and models.retrieve() for a key with a model list: as the key may see the list; another model is its not_found_error", async () => {
    const a = new Anthropic({ baseURL: broker, apiKey: keys.editor, maxRetries: 0 });
    const listed: string[] = [];
    for await (const m of a.models.list()) listed.push(m.id);
    expect(listed.sort()).toEqual(["gpt-4o-mini", ALLOWED]);
    expect((await a.models.retrieve(ALLOWED)).id).toBe(ALLOWED);
    expect((await a.models.retrieve("gpt-4o-mini")).id).toBe("gpt-4o-mini");
    for (const hidden of [FORBIDDEN, "secret"]) {
      const e = await a.models.retrieve(hidden).catch((x) => x);
      expect(e).toBeInstanceOf(Anthropic.NotFoundError);
      expect(e.message).toContain(`model "${hidden}" is not served by any upstream this key may use`);
    }
    // The same names without a key limit are there.
    expect((await new Anthropic({ baseURL: broker, apiKey: keys.open, maxRetries: 0 }).models.retrieve(FORBIDDEN)).id).toBe(FORBIDDEN);
  });

  test("without a key, or with a key for every model, the lists are whole", async () => {
    for (const h of [{}, asKey(keys.open)]) {
      expect((await get("/api/tags", h)).models.map((m: { name: string }) => m.name).sort()).toEqual(["gpt-4o-mini", ALLOWED, FORBIDDEN, "secret"]);
      expect((await get("/api/ps", h)).models.map((m: { name: string }) => m.name)).toEqual([FORBIDDEN]);
    }
  });
});

describe("a key that is sent is always checked", () => {
  const chatBody = (model: string) => `{"model":"${model}","stream":false,"messages":[{"role":"user","content":"hi"}]}`;

  test("an unknown key beside a placeholder, or in another header, is 401", async () => {
    const sent: Record<string, string>[] = [
      { "x-api-key": "ollama", authorization: "Bearer c2l_unknown" },
      { authorization: "Bearer ollama", "api-key": "c2l_unknown" },
      { authorization: `Basic ${btoa("me:c2l_unknown")}` },
    ];
    for (const h of sent) {
      const r = await post("/api/chat", chatBody(ALLOWED), h);
      expect([r.status, r.code, r.reached]).toEqual([401, "unauthorized", false]);
      expect(r.body.error).toContain("c2l_unkn… is not known");
    }
  });

  test("a restricted key is in force wherever it is sent: a placeholder in x-api-key does not hide it", async () => {
    const r = await post("/api/chat", chatBody(FORBIDDEN), { "x-api-key": "ollama", authorization: `Bearer ${keys.editor}` });
    expect([r.status, r.reached]).toEqual([403, false]);
  });

  test("a key in any header counts, and no header holding a key reaches the upstream", async () => {
    const r = await post("/api/chat", chatBody(ALLOWED), { "api-key": keys.editor, "x-trace": `run=1, key=${keys.editor}`, "x-other": "kept" });
    expect([r.status, r.reached]).toEqual([200, true]);
    const seen = fake.requests.findLast((x) => x.path === "/api/chat")!.headers;
    expect(seen["x-other"]).toBe("kept");
    expect(JSON.stringify(seen)).not.toContain("c2l_");
    const no = await post("/api/chat", chatBody(FORBIDDEN), { "api-key": keys.editor });
    expect([no.status, no.reached]).toEqual([403, false]);
  });

  test("two different keys in one request are 400, in each dialect", async () => {
    const h = { authorization: `Bearer ${keys.open}`, "x-api-key": keys.editor };
    const o = await post("/api/chat", chatBody(FORBIDDEN), h);
    expect([o.status, o.reached]).toEqual([400, false]);
    expect(o.body.error).toMatch(/^the request carries two different API keys \(c2l_.{4}… in authorization, c2l_.{4}… in x-api-key\); send one$/);
    const a = await post("/v1/chat/completions", chatBody(FORBIDDEN), h);
    expect([a.status, a.body.error.code, a.body.error.type]).toEqual([400, "bad_request", "invalid_request_error"]);
    const listed = await fetch(`${broker}/api/tags`, { headers: h });
    expect(listed.status).toBe(400);
  });
});

describe("through the tunnel", () => {
  const via = (path: string, body: string, headers: Record<string, string>) =>
    post(path, body, { authorization: `Bearer ${CLIENT_KEY}`, ...headers }, `${relay.url}/t/${TUNNEL_ID}`);

  test("the differential bodies, the model list and a second key are refused behind the relay as on this machine", async () => {
    const dup = await via("/api/chat", `{"model":"${ALLOWED}","messages":[],"MODEL":"${FORBIDDEN}"}`, { "x-api-key": keys.editor });
    expect([dup.status, dup.reached]).toEqual([400, false]);
    expect(dup.body.error).toContain('names "model" also as "MODEL"');
    const v1 = await via("/v1/chat/completions", `{"model":"${ALLOWED}","\\u006dodel":"${FORBIDDEN}","messages":[]}`, { "x-api-key": keys.editor });
    expect([v1.status, v1.body.error.code, v1.reached]).toEqual([400, "bad_request", false]);
    const nested = await via("/api/chat", `{"options":{"model":"${ALLOWED}"},"model":"${FORBIDDEN}","messages":[]}`, { "x-api-key": keys.editor });
    expect([nested.status, nested.reached]).toEqual([403, false]);
    // What only Python's json reads (vLLM): refused at the broker behind the relay too.
    const nan = await via("/v1/chat/completions", `{"model":"${ALLOWED}","messages":[],"temperature":NaN}`, { "x-api-key": keys.editor });
    expect([nan.status, nan.body.error.code, nan.reached]).toEqual([400, "bad_request", false]);
    expect(nan.body.error.message).toContain("NaN and Infinity are not JSON");
    const unknown = await via("/api/chat", `{"model":"${ALLOWED}","messages":[]}`, { "x-api-key": "ollama", "api-key": "c2l_unknown" });
    expect([unknown.status, unknown.reached]).toEqual([401, false]);
    const ok = await via("/api/chat", `{"model":"${ALLOWED}","messages":[],"stream":false}`, { "x-api-key": keys.editor });
    expect([ok.status, ok.reached]).toEqual([200, true]);
    const tags = (await (await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { authorization: `Bearer ${CLIENT_KEY}`, "x-api-key": keys.editor } })).json()) as any;
    expect(tags.models.map((m: { name: string }) => m.name).sort()).toEqual(["gpt-4o-mini", ALLOWED]);
  });
});
