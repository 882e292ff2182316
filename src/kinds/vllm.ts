// vLLM's OpenAI-compatible server (docs.vllm.ai): /health (200, empty) and /v1/models are the probe (it serves only the
// models it loaded), /version its version, /metrics the requests it runs (vllm:num_requests_running) and queues
// (vllm:num_requests_waiting). It reports no slot count (max_num_seqs): a queue means it is full.
import { type KindModule, OPENAI_MODELS, openAiIds, promSum, versionField } from "./types.ts";

export const vllm: KindModule = {
  label: "vLLM",
  summary: "vLLM's OpenAI-compatible server (OpenAI, Anthropic and Responses routes; load from /metrics)",
  defaultUrl: "http://127.0.0.1:8000",
  reads: [
    { path: "/health", as: "text", required: true, tells: ["health"], fields: "200", apply: () => ({}) },
    {
      path: "/v1/models",
      as: "json",
      required: true,
      tells: ["models", "loaded"],
      fields: "data[].id",
      apply: (b) => {
        const ids = openAiIds(b);
        return { models: ids, loaded: ids };
      },
    },
    { path: "/version", as: "json", required: false, tells: ["version"], fields: "version", apply: versionField },
    {
      path: "/metrics",
      as: "text",
      required: false,
      tells: ["capacity"],
      fields: "vllm:num_requests_running, vllm:num_requests_waiting",
      apply: (b) => {
        const text = String(b);
        const busy = promSum(text, "vllm:num_requests_running");
        const waiting = promSum(text, "vllm:num_requests_waiting");
        return busy === null && waiting === null ? {} : { capacity: { busy, waiting } };
      },
    },
  ],
  dialects: { openai: true, anthropic: true, responses: true },
  // vLLM's extra sampling parameters of the chat API (its docs; its repetition_penalty is named otherwise).
  samplerOptions: ["top_k", "min_p"],
  // Its chat template's variables (chat_template_kwargs, its reasoning outputs docs): Qwen3, GLM-4.5 and most thinking
  // models read enable_thinking, DeepSeek-V3.1 and IBM Granite thinking; vLLM passes a template only the variables it
  // names, so both go.
  thinking: (on) => ({ chat_template_kwargs: { enable_thinking: on, thinking: on } }),
  // Its /v1/models entries say max_model_len: the context it runs the model with.
  modelFacts: (e) => (typeof e.max_model_len === "number" ? { contextLength: e.max_model_len } : {}),
  listing: { tags: OPENAI_MODELS, ps: OPENAI_MODELS, openai: OPENAI_MODELS },
  refusedHint: "is vLLM running? `vllm serve MODEL`",
  checksModelName: true,
};
