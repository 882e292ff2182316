// LM Studio (lmstudio.ai/docs/developer/rest): /v1/models is the probe and the model list; the native GET /api/v1/models
// (≥ 0.4) gives each model's loaded_instances (with config.parallel, the predictions an instance runs at once), the older
// GET /api/v0/models each model's state loaded | not-loaded.
import { type KindModule, OPENAI_MODELS, openAiIds, type Reading } from "./types.ts";

interface V1Model {
  key?: unknown;
  loaded_instances?: { config?: { parallel?: unknown } }[];
}

function nativeV1(body: unknown): Reading {
  const models = (body as { models?: unknown })?.models;
  if (!Array.isArray(models)) return {};
  const loaded = (models as V1Model[]).filter((m) => typeof m?.key === "string" && Array.isArray(m.loaded_instances) && m.loaded_instances.length > 0);
  const parallel = loaded.flatMap((m) => m.loaded_instances!.map((i) => i?.config?.parallel)).filter((p): p is number => typeof p === "number");
  return { loaded: loaded.map((m) => m.key as string), ...(parallel.length ? { capacity: { slots: parallel.reduce((a, b) => a + b, 0) } } : {}) };
}

function nativeV0(body: unknown): Reading {
  const data = (body as { data?: unknown })?.data;
  if (!Array.isArray(data)) return {};
  return { loaded: data.filter((m: { id?: unknown; state?: unknown }) => m?.state === "loaded" && typeof m.id === "string").map((m: { id: string }) => m.id) };
}

export const lmstudio: KindModule = {
  label: "LM Studio",
  summary: "LM Studio's server (OpenAI, Anthropic ≥ 0.4 and Responses routes; loaded models from its native API)",
  defaultUrl: "http://127.0.0.1:1234",
  reads: [
    { path: "/v1/models", as: "json", required: true, tells: ["models"], fields: "data[].id", apply: (b) => ({ models: openAiIds(b) }) },
    { path: "/api/v1/models", as: "json", required: false, tells: ["loaded", "capacity"], fields: "loaded_instances, their config.parallel", apply: nativeV1 },
    { path: "/api/v0/models", as: "json", required: false, tells: ["loaded"], fields: "state; before 0.4", apply: nativeV0 },
  ],
  dialects: { openai: true, anthropic: true, responses: true },
  // LM Studio's OpenAI-compatible endpoints list them among the fields they take.
  samplerOptions: ["top_k", "repeat_penalty"],
  // Its OpenAI-compatible chat completions take reasoning_effort "none" to switch a thinking model's reasoning off; on
  // needs nothing (a thinking model reasons by default, and a level it does not list would be refused).
  thinking: (on) => (on ? {} : { reasoning_effort: "none" }),
  listing: { tags: OPENAI_MODELS, ps: null, openai: OPENAI_MODELS },
  refusedHint: "is LM Studio's server running? `lms server start`",
  // Releases before 0.3 answered with the loaded model whatever the request named.
  checksModelName: false,
};
