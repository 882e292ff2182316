// Ollama's /api/embed and /api/embeddings rewritten as OpenAI's /v1/embeddings, and its answer back in Ollama's shape.
import { HttpError } from "../../../core/http-error.ts";
import type { OllamaEmbeddingsRequest, OllamaEmbedRequest } from "./types.ts";

export interface EmbeddingsRequest {
  model: string;
  input: string | string[];
  dimensions?: number;
  encoding_format: "float";
}

export interface EmbeddingsResponse {
  data?: { index?: number; embedding?: number[] | string }[];
  usage?: { prompt_tokens?: number } | null;
}

/** Which Ollama route: /api/embed (a list of inputs, `embeddings`) or the older /api/embeddings (one `prompt`, `embedding`). */
export type EmbedRoute = "embed" | "embeddings";

const bad = (message: string) => new HttpError("bad_request", message);

function model(m: unknown): string {
  if (typeof m !== "string" || !m) throw bad("model is required");
  return m;
}

/** The /v1/embeddings request (truncate, options and keep_alive have no counterpart and are left out). */
export function embeddingsRequest(route: EmbedRoute, req: OllamaEmbedRequest & OllamaEmbeddingsRequest): EmbeddingsRequest {
  if (route === "embeddings") {
    if (typeof req.prompt !== "string") throw bad("prompt must be a string");
    return { model: model(req.model), input: req.prompt, encoding_format: "float" };
  }
  const input = req.input;
  if (!(typeof input === "string" || (Array.isArray(input) && input.every((s) => typeof s === "string")))) throw bad("input must be a string or an array of strings");
  return { model: model(req.model), input, ...(typeof req.dimensions === "number" ? { dimensions: req.dimensions } : {}), encoding_format: "float" };
}

/** The answer in Ollama's shape; `model`: what the client asked for; `durationMs`: the time the broker saw it take. */
export function fromEmbeddingsResponse(route: EmbedRoute, res: EmbeddingsResponse, model: string, durationMs: number): Record<string, unknown> {
  const data = [...(res.data ?? [])].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  const vectors = data.map((d, i) => {
    if (!Array.isArray(d.embedding)) throw new HttpError("upstream_error", `the upstream's embedding ${i} is not a list of numbers`);
    return d.embedding;
  });
  if (route === "embeddings") return { embedding: vectors[0] ?? [] };
  return { model, embeddings: vectors, total_duration: Math.max(0, Math.round(durationMs * 1e6)), load_duration: 0, prompt_eval_count: res.usage?.prompt_tokens ?? 0 };
}
