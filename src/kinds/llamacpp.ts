// llama.cpp's llama-server (tools/server/README.md): GET /health is 200 {"status":"ok"} once the model is loaded and 503
// while loading; /v1/models names the model (in router mode each with status.value loaded|unloaded|loading); /props
// gives total_slots (--parallel) and build_info; /slots each slot's is_processing (unless --no-slots).
import { type KindModule, OPENAI_MODELS, openAiIds, type Reading } from "./types.ts";

/** /v1/models: every model, and those loaded (one server, one model: it is loaded once the server answers). */
function models(body: unknown): Reading {
  const ids = openAiIds(body);
  const data = (body as { data?: { id?: unknown; status?: { value?: unknown } }[] })?.data ?? [];
  const router = data.some((m) => m?.status && typeof m.status === "object");
  const loaded = router ? data.filter((m) => m?.status?.value === "loaded" && typeof m.id === "string").map((m) => m.id as string) : ids;
  return { models: ids, loaded };
}

export const llamacpp: KindModule = {
  label: "llama.cpp server",
  summary: "llama.cpp's llama-server (OpenAI, Anthropic and Responses routes; load from /slots)",
  defaultUrl: "http://127.0.0.1:8080",
  reads: [
    {
      path: "/health",
      as: "json",
      required: true,
      tells: ["health"],
      fields: 'status "ok"; 503 while loading',
      apply: (b) => {
        const status = (b as { status?: unknown })?.status;
        if (status !== "ok") throw new Error(`/health says ${JSON.stringify(status ?? b)}`);
        return {};
      },
    },
    { path: "/v1/models", as: "json", required: true, tells: ["models", "loaded"], fields: "data[].id; router mode: status.value", apply: models },
    {
      path: "/props",
      as: "json",
      required: false,
      tells: ["capacity", "version"],
      fields: "total_slots, build_info",
      apply: (b) => {
        const p = b as { total_slots?: unknown; build_info?: unknown };
        return { capacity: typeof p?.total_slots === "number" ? { slots: p.total_slots } : {}, ...(typeof p?.build_info === "string" ? { version: p.build_info } : {}) };
      },
    },
    {
      path: "/slots",
      as: "json",
      required: false,
      tells: ["capacity"],
      fields: "is_processing of each slot",
      apply: (b) => (Array.isArray(b) ? { capacity: { slots: b.length, busy: b.filter((s: { is_processing?: unknown }) => s?.is_processing === true).length } } : {}),
    },
  ],
  dialects: { openai: true, anthropic: true, responses: true },
  // llama-server's chat completions take every /completion sampling option (its README).
  samplerOptions: ["top_k", "min_p", "repeat_penalty", "typical_p"],
  // Its /v1/models entries carry the GGUF's meta: n_params (n_ctx_train is the trained context, not the one it runs with).
  modelFacts: (e) => {
    const n = (e.meta as { n_params?: unknown } | null | undefined)?.n_params;
    return typeof n === "number" ? { parameterCount: n } : {};
  },
  listing: { tags: OPENAI_MODELS, ps: OPENAI_MODELS, openai: OPENAI_MODELS },
  refusedHint: "is llama-server running? `llama-server -m MODEL.gguf --port 8080`",
};
