// Any OpenAI-compatible server: /v1/models is the probe and the model list; it says nothing of loaded models or load.
import { type KindModule, OPENAI_MODELS, openAiIds, type OutputField, type SamplingField } from "./types.ts";

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
 * default 1, top_p, presence_penalty, frequency_penalty): hints, left out.
 */
const REASONING_REFUSES: readonly SamplingField[] = ["temperature", "top_p", "presence_penalty", "frequency_penalty"];
const NONE: readonly SamplingField[] = [];

/**
 * What they refuse that asks for something back: logprobs and top_logprobs ("logprobs is not supported with this
 * model"). Left out, the client would get an answer silently without what it asked for; so the broker answers the 400
 * itself, in the caller's dialect, as LiteLLM does unless told to drop_params.
 */
const REASONING_REFUSES_OUTPUTS: readonly OutputField[] = ["logprobs", "top_logprobs"];
const NO_OUTPUTS: readonly OutputField[] = [];

export const openai: KindModule = {
  label: "OpenAI-compatible",
  summary: "any OpenAI-compatible server (chat/completions, completions, embeddings, models)",
  defaultUrl: "http://127.0.0.1:8000",
  reads: [{ path: "/v1/models", as: "json", required: true, tells: ["models"], fields: "data[].id", apply: (b) => ({ models: openAiIds(b) }) }],
  dialects: { openai: true },
  limitField: (model) => (REASONING_MODEL.test(model) ? "max_completion_tokens" : "max_tokens"),
  takesReasoningEffort: (model) => !NON_REASONING_OPENAI_MODEL.test(model),
  refusedSampling: (model) => (REASONING_MODEL.test(model) ? REASONING_REFUSES : NONE),
  refusedOutputs: (model) => (REASONING_MODEL.test(model) ? REASONING_REFUSES_OUTPUTS : NO_OUTPUTS),
  // No `thinking`: no one value switches thinking on or off for every OpenAI model ("none" only gpt-5.1 and later take,
  // "minimal" only gpt-5, the o-series neither; OpenAI refuses chat_template_kwargs), and its chat completions return no
  // reasoning text, so Ollama's think true or false leaves the model at its own default (docs/broker.md).
  listing: { tags: OPENAI_MODELS, ps: null, openai: OPENAI_MODELS },
  refusedHint: null,
  // Some OpenAI-compatible servers (llamafile, koboldcpp…) run their one model whatever the request names.
  checksModelName: false,
};
