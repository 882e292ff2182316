// vLLM's OpenAI-compatible server as its docs describe it: /health (200, empty body), /version, /v1/models (owned_by
// "vllm", root, max_model_len) and Prometheus /metrics with vllm:num_requests_running and vllm:num_requests_waiting per model;
// a chat completion's vLLM-only fields (prompt_logprobs), after its usage as vLLM's ChatCompletionResponse orders them.
import type { FakeKindAnswerExtras, FakeKindRoutes } from "./index.ts";

/**
 * vLLM's extra sampling parameter `prompt_logprobs` (N): the top N log probabilities of every prompt token, answered in
 * a `prompt_logprobs` list after `usage` (null for the first token). The fake's prompt is a token per 4 bytes of its messages' text.
 */
export const vllmChatExtras: FakeKindAnswerExtras = (body) => {
  const n = body?.prompt_logprobs;
  if (!Number.isInteger(n) || n < 0) return {};
  const text = (Array.isArray(body.messages) ? body.messages : []).map((m: any) => (typeof m?.content === "string" ? m.content : "")).join("");
  const tokens = Math.max(1, Math.ceil(text.length / 4));
  const top = (t: number) => Object.fromEntries(Array.from({ length: Math.max(1, n) }, (_, r) => [String(1000 + t * 7 + r), { logprob: -0.5 * (r + 1), rank: r + 1, decoded_token: text.slice(t * 4, t * 4 + 4) }]));
  return { prompt_logprobs: Array.from({ length: tokens }, (_, t) => (t === 0 ? null : top(t))) };
};

export const vllmRoutes: FakeKindRoutes = (method, path, s) => {
  if (method !== "GET") return null;
  switch (path) {
    case "/health":
      return new Response(null, { status: 200 });
    case "/version":
      return Response.json({ version: s.options.version });
    case "/v1/models":
      return Response.json({ object: "list", data: s.options.models.map((id) => ({ id, object: "model", created: 1_735_142_223, owned_by: "vllm", root: id, parent: null, max_model_len: 8192, permission: [] })) });
    case "/metrics": {
      const lines: string[] = [
        "# HELP vllm:num_requests_running Number of requests in model execution batches.",
        "# TYPE vllm:num_requests_running gauge",
        ...s.options.models.map((m, i) => `vllm:num_requests_running{engine="0",model_name="${m}"} ${i === 0 ? s.concurrency.now : 0}.0`),
        "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
        "# TYPE vllm:num_requests_waiting gauge",
        ...s.options.models.map((m, i) => `vllm:num_requests_waiting{engine="0",model_name="${m}"} ${i === 0 ? s.concurrency.waiting : 0}.0`),
        "# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.",
        "# TYPE vllm:gpu_cache_usage_perc gauge",
        ...s.options.models.map((m) => `vllm:gpu_cache_usage_perc{engine="0",model_name="${m}"} 0.1`),
      ];
      return new Response(lines.join("\n") + "\n", { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
    }
  }
  return null;
};
