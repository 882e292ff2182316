// Ollama's metadata routes through a real daemon with the official `ollama` npm client: GET /api/version and POST
// /api/show answered by the broker, in Ollama's shape, when the upstreams do not serve Ollama's API (OpenAI-only,
// llama.cpp with what its /props tells, vLLM), and passed through unchanged to an Ollama-kind upstream; a key's model
// list applies to /api/show.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Ollama } from "ollama";
import { OLLAMA_API_VERSION } from "../../src/broker/dialects/ollama/metadata-plan.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, createKey, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let plain: FakeOllama;
let llama: FakeOllama;
let vllm: FakeOllama;
let native: FakeOllama;
let other: FakeOllama;
let bare: DaemonProc;
let mixed: DaemonProc;
let phiOnly: string;

const UPSTREAM = (name: string, kind: string, url: string, priority: number) => `[[upstreams]]
name = "${name}"
kind = "${kind}"
url = "${url}"
priority = ${priority}
`;
const HEAD = `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n`;

async function allUp(d: DaemonProc, n: number): Promise<void> {
  const token = await apiToken(d);
  await untilUpstreamsUp(d, token, n);
}

beforeAll(async () => {
  [plain, llama, vllm, native, other] = await Promise.all([
    startFakeOllama({ models: ["qwen2.5:0.5b"], kind: "openai" }),
    startFakeOllama({ models: ["phi:1b"], kind: "llamacpp" }),
    startFakeOllama({ models: ["org/vllm-model"], kind: "vllm" }),
    startFakeOllama({ models: ["llama3.2:1b"], version: "0.6.0" }),
    startFakeOllama({ models: ["qwen2.5:0.5b"], kind: "openai" }),
  ]);
  [bare, mixed] = await Promise.all([
    startDaemon({
      config: HEAD + UPSTREAM("plain", "openai", plain.url, 10) + UPSTREAM("llama", "llamacpp", llama.url, 20) + UPSTREAM("vllm", "vllm", vllm.url, 30) + `[[aliases]]\nname = "my-chat"\nmodel = "qwen2.5:0.5b"\n`,
      waitFor: ["api", "broker"],
    }),
    // The OpenAI-only upstream first by priority: a request routed by priority alone would reach it, not Ollama.
    startDaemon({ config: HEAD + UPSTREAM("other", "openai", other.url, 10) + UPSTREAM("native", "ollama", native.url, 20), waitFor: ["api", "broker"] }),
  ]);
  phiOnly = createKey(bare, "phi-only", "--models", "phi*");
  await until(async () => (await fetch(`${bare.urls.broker}/api/tags`, { headers: { authorization: `Bearer ${phiOnly}` } })).status === 200, 5000, "the daemon to see the key");
  await Promise.all([allUp(bare, 3), allUp(mixed, 2)]);
}, 40_000);
afterAll(async () => {
  await Promise.all([bare?.stop(), mixed?.stop()]);
  for (const f of [plain, llama, vllm, native, other]) await f?.stop();
  for (const d of [bare, mixed]) if (d) removeHome(d.home);
});

const client = (d: DaemonProc, key?: string) => new Ollama({ host: d.urls.broker!, ...(key ? { headers: { authorization: `Bearer ${key}` } } : {}) });

describe("no upstream serves Ollama's API", () => {
  test("/api/version: the broker's own version, in Ollama's shape (client.version() and a raw GET)", async () => {
    expect(await client(bare).version()).toEqual({ version: OLLAMA_API_VERSION });
    const res = await fetch(`${bare.urls.broker}/api/version`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(await res.json()).toEqual({ version: OLLAMA_API_VERSION });
    // Never asked of an upstream that does not serve it.
    expect(plain.requests.some((r) => r.path === "/api/version")).toBe(false);
  });

  test("/api/show for an OpenAI-only upstream's model: Ollama's shape from its /v1/models entry, unknowns empty", async () => {
    const s = await client(bare).show({ model: "qwen2.5:0.5b" });
    expect(s as unknown).toEqual({
      modelfile: "",
      parameters: "",
      template: "",
      details: { parent_model: "", format: "", family: "", families: [], parameter_size: "", quantization_level: "" },
      model_info: { "general.architecture": "" },
      capabilities: ["completion"],
      modified_at: new Date(1_700_000_000_000).toISOString(),
    });
    expect(plain.requests.at(-1)).toMatchObject({ method: "GET", path: "/v1/models" });
  });

  test("/api/show by the older `name` field and by an alias", async () => {
    const byName = await fetch(`${bare.urls.broker}/api/show`, { method: "POST", body: JSON.stringify({ name: "qwen2.5:0.5b" }) });
    expect(byName.status).toBe(200);
    expect(((await byName.json()) as { capabilities: string[] }).capabilities).toEqual(["completion"]);
    expect((await client(bare).show({ model: "my-chat" })).capabilities).toEqual(["completion"]);
  });

  /** The GETs one show made of the llama.cpp fake (the health monitor's own reads of /props carry no query). */
  const showReads = (from: number) => llama.requests.slice(from).filter((r) => r.path === "/v1/models" || (r.path === "/props" && r.search !== ""));

  test("/api/show for a llama.cpp model: parameter_size from its /v1/models meta, the slot context from /props where Ollama's clients read it", async () => {
    const n = llama.requests.length;
    const s = await client(bare).show({ model: "phi:1b" });
    expect(s.details.parameter_size).toBe("8.0B");
    expect(s.model_info as unknown).toEqual({ "general.architecture": "", "general.parameter_count": 8_030_261_312, ".context_length": 4096 });
    // As `ollama show` and Ollama's own integrations find it: model_info[<general.architecture>.context_length].
    const info = s.model_info as unknown as Record<string, unknown>;
    expect(info[`${info["general.architecture"] as string}.context_length`]).toBe(4096);
    expect(s.parameters).toBe("num_ctx 4096");
    // The fake's template renders no tools and it has no projector: completion only; its Jinja is not Ollama's template.
    expect(s.capabilities).toEqual(["completion"]);
    expect(s.template).toBe("");
    // (The health monitor may read /v1/models meanwhile: only the show's /props is counted exactly.)
    const reads = showReads(n);
    expect(reads.filter((r) => r.path === "/props").map((r) => [r.method, r.path + r.search])).toEqual([["GET", "/props?model=phi%3A1b&autoload=false"]]);
    expect(reads.some((r) => r.method === "GET" && r.path === "/v1/models")).toBe(true);
  });

  test("/api/show for a llama.cpp vision model whose template handles tools: vision and tools, its own context", async () => {
    llama.options.props = {
      default_generation_settings: { n_ctx: 32768, params: {} },
      modalities: { vision: true, audio: false },
      chat_template_caps: { supports_tools: true, supports_tool_calls: true, supports_parallel_tool_calls: true, supports_system_role: true },
    };
    try {
      const s = await client(bare).show({ model: "phi:1b" });
      expect(s.capabilities).toEqual(["completion", "vision", "tools"]);
      expect(s.parameters).toBe("num_ctx 32768");
      expect((s.model_info as unknown as Record<string, unknown>)[".context_length"]).toBe(32768);
    } finally {
      llama.options.props = {};
    }
  });

  test("/api/show for a llama.cpp model whose /props fails (404) or lacks the fields: answered as from /v1/models alone", async () => {
    const alone = { parameters: "", capabilities: ["completion"], model_info: { "general.architecture": "", "general.parameter_count": 8_030_261_312 } };
    try {
      llama.options.props = null;
      const n = llama.requests.length;
      expect(await client(bare).show({ model: "phi:1b" })).toMatchObject(alone);
      expect(showReads(n).some((r) => r.path === "/props")).toBe(true);
      llama.options.props = { default_generation_settings: null, modalities: null, chat_template_caps: null };
      expect(await client(bare).show({ model: "phi:1b" })).toMatchObject(alone);
    } finally {
      llama.options.props = {};
    }
  });

  test("/api/show for a vLLM model: its max_model_len as num_ctx and context_length, nothing asked beside /v1/models", async () => {
    const n = vllm.requests.length;
    const s = await client(bare).show({ model: "org/vllm-model" });
    expect(s.parameters).toBe("num_ctx 8192");
    expect(s.model_info as unknown).toEqual({ "general.architecture": "", ".context_length": 8192 });
    expect(s.details.parameter_size).toBe("");
    expect(vllm.requests.slice(n).some((r) => r.path === "/props")).toBe(false);
  });

  test("/api/show for a model no upstream has: Ollama's 404 `model 'x' not found`", async () => {
    const res = await fetch(`${bare.urls.broker}/api/show`, { method: "POST", body: JSON.stringify({ model: "nope:1b" }) });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "model 'nope:1b' not found" });
    await expect(client(bare).show({ model: "nope:1b" })).rejects.toMatchObject({ status_code: 404, error: "model 'nope:1b' not found" });
  });

  test("a key limited to other models: 403 on /api/show as on every model route; its own model shown; /api/version, which acts on no model, answered", async () => {
    const res = await fetch(`${bare.urls.broker}/api/show`, { method: "POST", headers: { authorization: `Bearer ${phiOnly}` }, body: JSON.stringify({ model: "qwen2.5:0.5b" }) });
    expect(res.status).toBe(403);
    expect(typeof ((await res.json()) as { error: unknown }).error).toBe("string");
    const n = llama.requests.length;
    expect((await client(bare, phiOnly).show({ model: "phi:1b" })).details.parameter_size).toBe("8.0B");
    // The key is the broker's: neither the listing nor /props beside it carries it to the upstream.
    const reads = showReads(n);
    expect(new Set(reads.map((r) => r.path))).toEqual(new Set(["/props", "/v1/models"]));
    for (const r of reads) expect(JSON.stringify(r.headers)).not.toContain(phiOnly);
    expect(await client(bare, phiOnly).version()).toEqual({ version: "0.9.0" });
  });
});

describe("an Ollama-kind upstream among others", () => {
  test("/api/version: the Ollama upstream's own answer, passed through (though another is first by priority)", async () => {
    expect(await client(mixed).version()).toEqual({ version: "0.6.0" });
    expect(other.requests.some((r) => r.path === "/api/version")).toBe(false);
  });

  test("/api/show: passed through unchanged for the Ollama upstream's model; answered by the broker for the other's", async () => {
    const n = native.requests.length;
    const s = await client(mixed).show({ model: "llama3.2:1b" });
    expect(s.modelfile).toBe("FROM llama3.2:1b");
    expect(s.template).toBe("{{ .Prompt }}");
    expect(s.model_info as unknown).toEqual({ "general.architecture": "llama" });
    expect(native.requests.slice(n).map((r) => [r.method, r.path])).toEqual([["POST", "/api/show"]]);
    expect((await client(mixed).show({ model: "qwen2.5:0.5b" })).modelfile).toBe("");
  });
});
