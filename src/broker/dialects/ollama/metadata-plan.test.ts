// The /api/show plan for kinds that do not serve Ollama's API: the listing's entry, and for llama.cpp what its /props
// (read beside the listing) tells; /props failing or saying nothing leaves the show as the listing alone makes it.
import { expect, test } from "bun:test";
import type { DialectAttempt } from "../plan-types.ts";
import { showPlan } from "./metadata-plan.ts";
import type { OllamaShow } from "./show.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const LISTING = JSON.stringify({ object: "list", data: [{ id: "qwen", object: "model", created: 1_735_142_223, owned_by: "llamacpp", meta: { n_params: 8_030_261_312, n_ctx_train: 131072 } }] });
const PROPS = { default_generation_settings: { n_ctx: 16384 }, total_slots: 1, modalities: { vision: true, audio: false }, chat_template: "{{ messages }}", chat_template_caps: { supports_tools: true, supports_tool_calls: true }, build_info: "b1-x" };

/** The show the plan makes of the listing, with `aside` as the read beside it (waited for as TransformedReply waits). */
async function show(a: DialectAttempt, aside: Promise<unknown> | null): Promise<OllamaShow> {
  const p = a.answer(200, "application/json", aside);
  const t = p.transform!;
  const head = t.push(enc.encode(LISTING));
  if (p.before) await p.before;
  return JSON.parse(dec.decode(Buffer.concat([head, t.end()]))) as OllamaShow;
}

test("llama.cpp: /props asked beside /v1/models for the model as the upstream names it; its context and capabilities in the show", async () => {
  const a = showPlan("qwen", "my-alias").attempt("llamacpp", "/api/show", null, 0);
  expect(a).toMatchObject({ method: "GET", target: "/v1/models", aside: "/props?model=qwen&autoload=false" });
  const s = await show(a, Promise.resolve(PROPS));
  expect(s.parameters).toBe("num_ctx 16384");
  expect(s.model_info).toEqual({ "general.architecture": "", "general.parameter_count": 8_030_261_312, ".context_length": 16384 });
  expect(s.capabilities).toEqual(["completion", "vision", "tools"]);
  expect(s.details.parameter_size).toBe("8.0B");
  expect(s.template).toBe("");
});

test("llama.cpp: /props failed (null), answered what the mapping cannot read, or is late to settle: the show as the listing alone makes it", async () => {
  const alone = { parameters: "", model_info: { "general.architecture": "", "general.parameter_count": 8_030_261_312 }, capabilities: ["completion"] };
  for (const aside of [null, { error: "File Not Found" }, "not an object", []]) {
    const a = showPlan("qwen", null).attempt("llamacpp", "/api/show", null, 0);
    expect(await show(a, Promise.resolve(aside))).toMatchObject(alone);
  }
  // A settled read that the mapping still cannot take (its answer plan never rejects).
  const a = showPlan("qwen", null).attempt("llamacpp", "/api/show", null, 0);
  expect(await show(a, Promise.reject(new Error("boom")))).toMatchObject(alone);
  // No read at all (the pipeline made none).
  expect(await show(showPlan("qwen", null).attempt("llamacpp", "/api/show", null, 0), null)).toMatchObject(alone);
});

test("kinds without a showRead (vLLM, LM Studio, OpenAI) ask nothing beside the listing; vLLM's max_model_len is still the context", async () => {
  for (const kind of ["openai", "vllm", "lmstudio"] as const) expect(showPlan("qwen", null).attempt(kind, "/api/show", null, 0).aside).toBeUndefined();
  const vllm = showPlan("m", null).attempt("vllm", "/api/show", null, 0);
  const p = vllm.answer(200, "application/json", null);
  const s = JSON.parse(dec.decode(Buffer.concat([p.transform!.push(enc.encode(JSON.stringify({ data: [{ id: "m", max_model_len: 8192 }] }))), p.transform!.end()]))) as OllamaShow;
  expect(s.parameters).toBe("num_ctx 8192");
  expect(s.model_info).toEqual({ "general.architecture": "", ".context_length": 8192 });
  expect(p.before).toBeUndefined();
});
