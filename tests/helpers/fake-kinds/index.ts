// The fake upstream's own routes per kind (one file per kind, as src/kinds/ has one module per kind). Ollama's API and
// the OpenAI routes every kind serves are in tests/helpers/fake-ollama.ts; these add what each server has besides.
import type { KindName } from "../../../src/kinds/index.ts";
import { llamacppRoutes } from "./llamacpp.ts";
import { lmstudioRoutes } from "./lmstudio.ts";
import { vllmChatExtras, vllmRoutes } from "./vllm.ts";

/** What a kind's routes read of the fake: its live options and its generations running and waiting. */
export interface FakeKindState {
  options: { models: string[]; loaded: string[]; slots: number; loading: boolean; version: string; props: Record<string, unknown> | null };
  concurrency: { now: number; waiting: number };
}

/** A kind's routes: a Response for a path it serves itself, else null (the shared routes answer). */
export type FakeKindRoutes = (method: string, path: string, s: FakeKindState) => Response | null;

export const FAKE_KIND_ROUTES: Partial<Record<KindName, FakeKindRoutes>> = {
  llamacpp: llamacppRoutes,
  vllm: vllmRoutes,
  lmstudio: lmstudioRoutes,
};

/** Fields a kind adds to a whole chat completion after its usage (vLLM's prompt_logprobs), from the request body. */
export type FakeKindAnswerExtras = (body: any) => Record<string, unknown>;

export const FAKE_KIND_CHAT_EXTRAS: Partial<Record<KindName, FakeKindAnswerExtras>> = {
  vllm: vllmChatExtras,
};

/**
 * How each kind's server returns a thinking model's reasoning (its field in a chat completion's message and delta) and
 * what in a request switches that thinking off, from its docs: llama.cpp reasoning_content, off with
 * chat_template_kwargs.enable_thinking false (tools/server/README.md) or, in newer builds, reasoning_effort "none";
 * vLLM reasoning (reasoning_content before 0.26), off for Qwen3 with chat_template_kwargs.enable_thinking false (its
 * reasoning outputs docs); LM Studio reasoning, off with reasoning_effort "none". OpenAI returns no reasoning text.
 */
export const FAKE_KIND_THINKING: Partial<Record<KindName, { field: string; off(body: any): boolean }>> = {
  llamacpp: { field: "reasoning_content", off: (b) => b?.chat_template_kwargs?.enable_thinking === false || b?.reasoning_effort === "none" },
  vllm: { field: "reasoning", off: (b) => b?.chat_template_kwargs?.enable_thinking === false },
  lmstudio: { field: "reasoning", off: (b) => b?.reasoning_effort === "none" },
};
