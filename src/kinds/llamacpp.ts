// llama.cpp's llama-server (tools/server/README.md): GET /health is 200 {"status":"ok"} once the model is loaded and 503
// while loading; /v1/models names the model (in router mode each with status.value loaded|unloaded|loading); /props
// gives total_slots (--parallel) and build_info, and of the model it runs the context, modalities and what its chat
// template handles (read for Ollama's /api/show); /slots each slot's is_processing (unless --no-slots).
import { type KindModule, type ModelCapability, type ModelFacts, OPENAI_MODELS, openAiIds, type Reading } from "./types.ts";

/** /v1/models: every model, and those loaded (one server, one model: it is loaded once the server answers). */
function models(body: unknown): Reading {
  const ids = openAiIds(body);
  const data = (body as { data?: { id?: unknown; status?: { value?: unknown } }[] })?.data ?? [];
  const router = data.some((m) => m?.status && typeof m.status === "object");
  const loaded = router ? data.filter((m) => m?.status?.value === "loaded" && typeof m.id === "string").map((m) => m.id as string) : ids;
  return { models: ids, loaded };
}

/** The fields of GET /props read for /api/show (tools/server/README.md); any may be missing or of another type. */
interface Props {
  default_generation_settings?: { n_ctx?: unknown } | null;
  modalities?: { vision?: unknown } | null;
  chat_template_caps?: { supports_tools?: unknown; supports_tool_calls?: unknown } | null;
}

/** Each capability /props can state, and the statement: a field that is exactly true (absent or anything else: not said). */
const STATED: readonly { capability: ModelCapability; says(p: Props): boolean }[] = [
  // {vision, audio} in recent builds: true once a multimodal projector (--mmproj) that takes images is loaded.
  { capability: "vision", says: (p) => p.modalities?.vision === true },
  // chat_template_caps is what the server found its Jinja chat template renders (common/jinja/caps.cpp): the tool
  // definitions (supports_tools) and an assistant's tool calls in the history (supports_tool_calls); a tool loop needs both.
  { capability: "tools", says: (p) => p.chat_template_caps?.supports_tools === true && p.chat_template_caps?.supports_tool_calls === true },
];

/**
 * /props → what Ollama's /api/show tells: default_generation_settings.n_ctx is the context of one slot, what one
 * request may fill (Ollama's num_ctx); the capabilities it states. Its chat_template is Jinja, not the Go template
 * Ollama's `template` holds, so it is not read.
 */
export function propsFacts(body: unknown): ModelFacts {
  const p = (body !== null && typeof body === "object" ? body : {}) as Props;
  const n = p.default_generation_settings?.n_ctx;
  const capabilities = STATED.filter((s) => s.says(p)).map((s) => s.capability);
  return { ...(typeof n === "number" && Number.isSafeInteger(n) && n > 0 ? { contextLength: n } : {}), ...(capabilities.length ? { capabilities } : {}) };
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
  // chat_template_kwargs' enable_thinking (tools/server/README.md's example), which llama-server reads itself as the
  // request's thinking switch and hands the template; older builds know no other (newer ones also take reasoning_effort
  // "none", but not to switch thinking on).
  thinking: (on) => ({ chat_template_kwargs: { enable_thinking: on } }),
  // Its /v1/models entries carry the GGUF's meta: n_params (n_ctx_train is the trained context, not the one it runs
  // with); recent builds also architecture.input_modalities, "image" among them when a projector takes images (in
  // router mode known before the model is loaded, when its /props cannot be read without loading it).
  modelFacts: (e) => {
    const n = (e.meta as { n_params?: unknown } | null | undefined)?.n_params;
    const inputs = (e.architecture as { input_modalities?: unknown } | null | undefined)?.input_modalities;
    const vision = Array.isArray(inputs) && inputs.includes("image");
    return { ...(typeof n === "number" ? { parameterCount: n } : {}), ...(vision ? { capabilities: ["vision"] as const } : {}) };
  },
  // In router mode ?model= picks the model's own server, and autoload=false keeps a show from loading it (an unloaded
  // model's /props fails: the show then tells what the listing does); one server, one model ignores both.
  showRead: {
    target: (model) => `/props?model=${encodeURIComponent(model)}&autoload=false`,
    fields: "default_generation_settings.n_ctx, modalities.vision, chat_template_caps.supports_tools and supports_tool_calls",
    facts: propsFacts,
  },
  listing: { tags: OPENAI_MODELS, ps: OPENAI_MODELS, openai: OPENAI_MODELS },
  refusedHint: "is llama-server running? `llama-server -m MODEL.gguf --port 8080`",
  // One model: its server only echoes the request's "model" and runs its own (router mode checks, but cannot be told apart).
  checksModelName: false,
};
