// LM Studio as its REST docs describe it: the native GET /api/v1/models (≥ 0.4: key, loaded_instances with
// config.parallel) and GET /api/v0/models (state loaded | not-loaded); /v1/models is the OpenAI list the shared fake serves.
import type { FakeKindRoutes } from "./index.ts";

export const lmstudioRoutes: FakeKindRoutes = (method, path, s) => {
  if (method !== "GET") return null;
  const loaded = (m: string) => s.options.loaded.includes(m);
  switch (path) {
    case "/api/v1/models":
      return Response.json({
        models: s.options.models.map((key) => ({
          type: "llm",
          publisher: "lmstudio-community",
          key,
          display_name: key,
          architecture: "llama",
          quantization: { name: "Q4_K_M", bits_per_weight: 4 },
          size_bytes: 4_920_734_272,
          params_string: "8B",
          loaded_instances: loaded(key) ? [{ id: key, config: { context_length: 4096, eval_batch_size: 512, ...(s.options.slots ? { parallel: s.options.slots } : {}), flash_attention: false, offload_kv_cache_to_gpu: true } }] : [],
          max_context_length: 131072,
          format: "gguf",
          capabilities: { vision: false, trained_for_tool_use: true },
        })),
      });
    case "/api/v0/models":
      return Response.json({
        object: "list",
        data: s.options.models.map((id) => ({ id, object: "model", type: "llm", publisher: "lmstudio-community", arch: "llama", compatibility_type: "gguf", quantization: "Q4_K_M", state: loaded(id) ? "loaded" : "not-loaded", max_context_length: 131072 })),
      });
  }
  return null;
};
