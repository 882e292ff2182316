// Ollama (github.com/ollama/ollama docs/api.md): /api/version and /api/tags are the probe, /api/ps names the loaded models.
// It reports no slot count (OLLAMA_NUM_PARALLEL is not exposed): the broker knows only its own requests in flight.
import { type KindModule, ollamaNames, OPENAI_MODELS, versionField } from "./types.ts";

export const ollama: KindModule = {
  label: "Ollama",
  summary: "Ollama's own API (and its /v1 OpenAI, Anthropic ≥ 0.14 and Responses routes)",
  defaultUrl: "http://127.0.0.1:11434",
  reads: [
    { path: "/api/version", as: "json", required: true, tells: ["version"], fields: "version", apply: versionField },
    { path: "/api/tags", as: "json", required: true, tells: ["models"], fields: "models[].name", apply: (b) => ({ models: ollamaNames(b) }) },
    { path: "/api/ps", as: "json", required: false, tells: ["loaded"], fields: "models[].name", apply: (b) => ({ loaded: ollamaNames(b) }) },
  ],
  // Anthropic's Messages since 0.14.0, the Responses API since 0.13.3 (docs.ollama.com): an older Ollama answers those
  // routes 404, so it gets the translation to its /v1/chat/completions, which every release serves.
  dialects: { ollama: true, openai: true, anthropic: { since: "0.14.0" }, responses: { since: "0.13.3" } },
  listing: { tags: { path: "/api/tags", shape: "ollama" }, ps: { path: "/api/ps", shape: "ollama" }, openai: OPENAI_MODELS },
  refusedHint: "is Ollama running? `systemctl --user start ollama` or `ollama serve`",
  hostEnv: "OLLAMA_HOST",
  checksModelName: true,
};
