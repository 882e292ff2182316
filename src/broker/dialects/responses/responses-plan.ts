// The plan for POST /v1/responses (OpenAI's Responses API): passed through to an upstream that serves it, else a 501.
import { HttpError } from "../../../core/http-error.ts";
import type { DialectPlan } from "../plan-types.ts";
import { servesNatively } from "../../../kinds/index.ts";
import { UsageWatcher } from "../usage-watcher.ts";

export function responsesPlan(): DialectPlan {
  return {
    dialect: "openai-responses",
    takes: (kind) => servesNatively(kind, "responses"),
    attempt: (_kind, target, sent, bodyLength) => ({
      target,
      body: sent,
      bodyLength,
      translated: false,
      answer: (status, contentType) => ({ transform: status === 200 && (contentType ?? "").includes("text/event-stream") ? new UsageWatcher("responses") : null, contentType: null }),
    }),
    none: () =>
      new HttpError("not_implemented", "no enabled upstream serves OpenAI's Responses API (/v1/responses): it is passed through to kinds that serve it (ollama, llamacpp, vllm, lmstudio), not translated; use /v1/chat/completions, or add such an upstream").toDialectResponse("/v1/responses"),
  };
}
