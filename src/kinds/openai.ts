// Any OpenAI-compatible server: /v1/models is the probe and the model list; it says nothing of loaded models or load.
import { type KindModule, OPENAI_MODELS, openAiIds } from "./types.ts";

export const openai: KindModule = {
  label: "OpenAI-compatible",
  summary: "any OpenAI-compatible server (chat/completions, completions, embeddings, models)",
  defaultUrl: "http://127.0.0.1:8000",
  reads: [{ path: "/v1/models", as: "json", required: true, tells: ["models"], fields: "data[].id", apply: (b) => ({ models: openAiIds(b) }) }],
  dialects: { openai: true },
  listing: { tags: OPENAI_MODELS, ps: null, openai: OPENAI_MODELS },
  refusedHint: null,
  // Some OpenAI-compatible servers (llamafile, koboldcpp…) run their one model whatever the request names.
  checksModelName: false,
};
