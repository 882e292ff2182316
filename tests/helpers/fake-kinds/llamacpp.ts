// llama.cpp's llama-server as its README (tools/server/README.md) documents it: /health (503 while loading), /props
// (total_slots, build_info, the slot context, modalities, chat_template_caps; the fake's `props` option replaces fields
// or, null, makes it 404), /slots (per-slot is_processing), /metrics (llamacpp:requests_processing|deferred), and
// /v1/models naming the one model, owned_by "llamacpp".
import type { FakeKindRoutes } from "./index.ts";

const LOADING = { error: { code: 503, message: "Loading model", type: "unavailable_error" } };

export const llamacppRoutes: FakeKindRoutes = (method, path, s) => {
  // Router mode (tools/server/README.md, "Using multiple models"): loading and unloading a model answer success.
  if (method === "POST" && (path === "/models/load" || path === "/models/unload")) return Response.json({ success: true });
  if (method !== "GET") return null;
  const slots = Math.max(1, s.options.slots || 1);
  // While loading, llama-server answers 503 on every route but /health says why.
  if (s.options.loading && path !== "/") return Response.json(LOADING, { status: 503 });
  switch (path) {
    case "/health":
    case "/v1/health":
      return Response.json({ status: "ok" });
    case "/props":
      if (s.options.props === null) return Response.json({ error: { code: 404, message: "File Not Found", type: "not_found_error" } }, { status: 404 });
      return Response.json({
        default_generation_settings: { id: 0, id_task: -1, n_ctx: 4096, speculative: false, is_processing: false, params: { n_predict: -1 } },
        total_slots: slots,
        model_alias: s.options.models[0],
        model_path: `/models/${s.options.models[0]}.gguf`,
        modalities: { vision: false, video: false, audio: false },
        chat_template: "{% for message in messages %}{{ message['content'] }}{% endfor %}",
        // common/jinja/caps.cpp's keys, as that template renders: no tools.
        chat_template_caps: { supports_string_content: true, supports_typed_content: false, supports_tools: false, supports_tool_calls: false, supports_parallel_tool_calls: false, supports_system_role: true, supports_preserve_reasoning: false },
        build_info: `b${s.options.version}-fake`,
        is_sleeping: false,
        ...s.options.props,
      });
    case "/slots":
      return Response.json(
        Array.from({ length: slots }, (_, id) => ({ id, id_task: id < s.concurrency.now ? 100 + id : -1, n_ctx: 4096, speculative: false, is_processing: id < s.concurrency.now, params: {}, next_token: { has_next_token: true, has_new_line: false, n_remain: -1, n_decoded: 0 } })),
      );
    case "/metrics":
      return new Response(
        `# HELP llamacpp:requests_processing Number of requests processing.\n# TYPE llamacpp:requests_processing gauge\nllamacpp:requests_processing ${s.concurrency.now}\n# HELP llamacpp:requests_deferred Number of requests deferred.\n# TYPE llamacpp:requests_deferred gauge\nllamacpp:requests_deferred ${s.concurrency.waiting}\n`,
        { headers: { "content-type": "text/plain; version=0.0.4" } },
      );
    case "/v1/models":
    case "/models":
      return Response.json({
        object: "list",
        data: s.options.models.map((id) => ({ id, object: "model", created: 1_735_142_223, owned_by: "llamacpp", meta: { vocab_type: 2, n_vocab: 128256, n_ctx_train: 131072, n_embd: 4096, n_params: 8_030_261_312, size: 4_912_898_304 } })),
      });
  }
  return null;
};
