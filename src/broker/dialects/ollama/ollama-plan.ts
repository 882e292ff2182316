// The plans for Ollama's own API (POST /api/chat, /api/generate, /api/embed, /api/embeddings): passed through to an
// upstream that serves it, translated to OpenAI's /v1/chat/completions or /v1/embeddings for one that does not.
import { dialectError, HttpError } from "../../../core/http-error.ts";
import { kindOf, servesNatively, type KindName } from "../../../kinds/index.ts";
import type { AnswerPlan, DialectAttempt, DialectPlan } from "../plan-types.ts";
import { isSse, JSON_TYPE, requestToTranslate, wholeChatAnswer } from "../translated-answer.ts";
import { WholeBody } from "../whole-body.ts";
import { embeddingsRequest, fromEmbeddingsResponse, type EmbeddingsResponse, type EmbedRoute } from "./embed.ts";
import { fromChatResponse, loadAnswer, ollamaErrorFrom, type OllamaRoute } from "./from-chat-response.ts";
import { OllamaStreamTranslator } from "./stream-translator.ts";
import { chatRequest, generateRequest, isLoadRequest, isUnloadRequest, loadRequest, withThink } from "./to-chat-request.ts";
import type { OllamaChatRequest, OllamaGenerateRequest } from "./types.ts";
import { withModelFields } from "../chat-model-fields.ts";

const enc = new TextEncoder();
const NDJSON_TYPE = "application/x-ndjson";
const API = "Ollama's API";

const PASS: AnswerPlan = { transform: null, contentType: null };
const passThrough = (target: string, body: DialectAttempt["body"], bodyLength: number): DialectAttempt => ({ target, body, bodyLength, translated: false, answer: () => PASS });

/** An upstream's error in Ollama's shape, with its status (the ollama client throws a ResponseError with both). */
const errorAnswer = (status: number): AnswerPlan => ({ transform: new WholeBody((text) => ({ text: JSON.stringify(ollamaErrorFrom(status, text)), usage: null })), contentType: JSON_TYPE });

/** The attempt for an upstream of `kind`: as it is when it serves Ollama's API, else what `translate` makes of the body. */
function ollamaPlan(route: string, translate: (body: DialectAttempt["body"], kind: KindName) => DialectAttempt): DialectPlan {
  return {
    dialect: "ollama",
    takes: () => true,
    none: () => dialectError(route, "no_upstream", "no upstream is enabled in the broker's configuration"),
    attempt: (kind, target, body, bodyLength) => (servesNatively(kind, "ollama") ? passThrough(target, body, bodyLength) : translate(body, kind)),
  };
}

/** /api/chat or /api/generate, as a chat completion; `requested`: the model name the client sent, shown back to it. */
export function generationPlan(route: OllamaRoute, requested: string | null): DialectPlan {
  const path = `/api/${route}`;
  return ollamaPlan(path, (body, kind) => {
    const req = requestToTranslate<OllamaChatRequest & OllamaGenerateRequest>(body, path, API);
    if (isLoadRequest(route, req)) return isUnloadRequest(req) ? unloadAttempt(route, req, kind, requested) : loadAttempt(route, req, kind, requested);
    const k = kindOf(kind);
    const extra = k.samplerOptions ?? [];
    const chat = withModelFields(withThink(route === "chat" ? chatRequest(req, extra) : generateRequest(req, extra), req.think, k), kind);
    const out = enc.encode(JSON.stringify(chat));
    const shown = requested ?? chat.model;
    const started = performance.now();
    return {
      target: "/v1/chat/completions",
      body: out,
      bodyLength: out.byteLength,
      translated: true,
      answer(status, contentType) {
        if (status >= 400) return errorAnswer(status);
        if (isSse(contentType)) return { transform: new OllamaStreamTranslator(route, shown, started), contentType: NDJSON_TYPE };
        return wholeChatAnswer((res) => {
          const o = fromChatResponse(res, route, shown, started);
          return { text: JSON.stringify(o), usage: { tokens: o.eval_count as number, promptTokens: o.prompt_eval_count as number, genMs: null } };
        });
      },
    };
  });
}

/** A load request (isLoadRequest): a one-token completion sent, Ollama's `"done_reason": "load"` answered once it came. */
function loadAttempt(route: OllamaRoute, req: OllamaChatRequest & OllamaGenerateRequest, kind: KindName, requested: string | null): DialectAttempt {
  const chat = withModelFields(loadRequest(req), kind);
  const out = enc.encode(JSON.stringify(chat));
  const line = JSON.stringify(loadAnswer(route, requested ?? chat.model)) + (req.stream === false ? "" : "\n");
  return {
    target: "/v1/chat/completions",
    body: out,
    bodyLength: out.byteLength,
    translated: true,
    answer(status) {
      if (status >= 400) return errorAnswer(status);
      return { transform: new WholeBody(() => ({ text: line, usage: null })), contentType: req.stream === false ? JSON_TYPE : NDJSON_TYPE };
    },
  };
}

/**
 * An unload request (isUnloadRequest): OpenAI's API cannot unload a model, and a completion would load it (a server that
 * loads on demand, LM Studio's JIT, llama-swap). The kind's model listing is read instead (loads nothing, and failover
 * still finds an upstream that answers), and Ollama's `"done_reason": "unload"` answered whatever it says.
 */
function unloadAttempt(route: OllamaRoute, req: OllamaChatRequest & OllamaGenerateRequest, kind: KindName, requested: string | null): DialectAttempt {
  if (typeof req.model !== "string" || !req.model) throw new HttpError("bad_request", "model is required");
  const model = requested ?? req.model;
  const line = JSON.stringify(loadAnswer(route, model, "unload")) + (req.stream === false ? "" : "\n");
  return {
    method: "GET",
    target: kindOf(kind).listing.openai.path,
    body: null,
    bodyLength: 0,
    translated: true,
    answer: () => ({ transform: new WholeBody(() => ({ text: line, usage: null })), contentType: req.stream === false ? JSON_TYPE : NDJSON_TYPE, status: 200 }),
  };
}

/** /api/embed or /api/embeddings, as /v1/embeddings. */
export function embedPlan(route: EmbedRoute, requested: string | null): DialectPlan {
  const path = `/api/${route}`;
  return ollamaPlan(path, (body) => {
    const req = embeddingsRequest(route, requestToTranslate(body, path, API));
    const out = enc.encode(JSON.stringify(req));
    const shown = requested ?? req.model;
    const started = performance.now();
    return {
      target: "/v1/embeddings",
      body: out,
      bodyLength: out.byteLength,
      translated: true,
      answer(status) {
        if (status >= 400) return errorAnswer(status);
        return {
          transform: new WholeBody((text) => {
            let res: EmbeddingsResponse;
            try {
              res = JSON.parse(text) as EmbeddingsResponse;
            } catch {
              // Read whole before the head is sent (TransformedReply.whole): the client gets a 502 in Ollama's shape.
              throw new HttpError("upstream_error", `the upstream's answer is not JSON: ${text.slice(0, 200)}`);
            }
            // Embeddings generate nothing: their prompt tokens are what is counted (and what a key's budget spends).
            const prompt = typeof res?.usage?.prompt_tokens === "number" ? res.usage.prompt_tokens : null;
            return { text: JSON.stringify(fromEmbeddingsResponse(route, res, shown, performance.now() - started)), usage: prompt === null ? null : { tokens: 0, promptTokens: prompt, genMs: null } };
          }),
          contentType: JSON_TYPE,
        };
      },
    };
  });
}
