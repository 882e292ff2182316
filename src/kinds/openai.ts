// Any OpenAI-compatible server: /v1/models is the probe and the model list; it says nothing of loaded models or load.
import { type KindModule, OPENAI_MODELS, openAiIds, type SamplingField } from "./types.ts";

/**
 * OpenAI's reasoning models (o1, o3, o4-mini, gpt-5…, a provider prefix allowed: "openai/o3"): OpenAI's API refuses
 * `max_tokens` for them ("Unsupported parameter … use 'max_completion_tokens'"), as LiteLLM also maps it. Other models
 * keep `max_tokens`: OpenAI still reads it, and an OpenAI-compatible server of another make (llamafile, koboldcpp, an
 * older vLLM) may read nothing else, which would leave the answer without a limit.
 */
const REASONING_MODEL = /^(?:[^/]*\/)?(?:o\d|gpt-5)(?:$|[-.:_])/i;

/** OpenAI's models that do not reason (gpt-4o, gpt-4.1, gpt-3.5, chatgpt-4o…): its API refuses reasoning_effort for them. */
const NON_REASONING_OPENAI_MODEL = /^(?:[^/]*\/)?(?:gpt-4|gpt-3\.5|chatgpt-)/i;

/**
 * What OpenAI's reasoning models refuse of the sampling fields (its reasoning guide, "limitations": temperature but its
 * default 1, top_p, presence_penalty, frequency_penalty). logprobs and top_logprobs, which they refuse too, still pass:
 * they ask for something back, so the client hears the upstream's 400 rather than an answer silently without them.
 */
const REASONING_REFUSES: readonly SamplingField[] = ["temperature", "top_p", "presence_penalty", "frequency_penalty"];
const NONE: readonly SamplingField[] = [];

export const openai: KindModule = {
  label: "OpenAI-compatible",
  summary: "any OpenAI-compatible server (chat/completions, completions, embeddings, models)",
  defaultUrl: "http://127.0.0.1:8000",
  reads: [{ path: "/v1/models", as: "json", required: true, tells: ["models"], fields: "data[].id", apply: (b) => ({ models: openAiIds(b) }) }],
  dialects: { openai: true },
  limitField: (model) => (REASONING_MODEL.test(model) ? "max_completion_tokens" : "max_tokens"),
  takesReasoningEffort: (model) => !NON_REASONING_OPENAI_MODEL.test(model),
  refusedSampling: (model) => (REASONING_MODEL.test(model) ? REASONING_REFUSES : NONE),
  listing: { tags: OPENAI_MODELS, ps: null, openai: OPENAI_MODELS },
  refusedHint: null,
  // Some OpenAI-compatible servers (llamafile, koboldcpp…) run their one model whatever the request names.
  checksModelName: false,
};
