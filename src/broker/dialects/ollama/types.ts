// The shapes of Ollama's own API (/api/chat, /api/generate, /api/embed, /api/embeddings) that the translation reads and writes (types only; from Ollama's docs/api.md).

export interface OllamaToolCall {
  id?: string;
  function: { index?: number; name: string; arguments: Record<string, unknown> | string };
}

export interface OllamaMessage {
  role: "system" | "user" | "assistant" | "tool" | string;
  content?: string;
  /** Base64 images, without a data: prefix. */
  images?: string[];
  tool_calls?: OllamaToolCall[];
  /** A tool's result names the tool it answers (Ollama ≥ 0.9), or the call (tool_call_id, newer). */
  tool_name?: string;
  tool_call_id?: string;
  thinking?: string;
}

/** The model parameters of `options` the translation maps (the others, such as num_ctx, are the server's own settings). */
export interface OllamaOptions {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  num_predict?: number;
  stop?: string[] | string;
  seed?: number;
  frequency_penalty?: number;
  presence_penalty?: number;
  [other: string]: unknown;
}

export interface OllamaCommon {
  model?: string;
  stream?: boolean;
  /** "json", or a JSON schema. */
  format?: "json" | Record<string, unknown> | string;
  options?: OllamaOptions;
  keep_alive?: string | number;
  think?: boolean | string;
  /** Log probabilities of the answer's tokens (Ollama ≥ 0.12.11), and the `top_logprobs` likeliest at each position. */
  logprobs?: boolean;
  top_logprobs?: number;
}

export interface OllamaChatRequest extends OllamaCommon {
  messages?: OllamaMessage[];
  tools?: { type?: string; function?: { name?: string; description?: string; parameters?: unknown } }[];
}

export interface OllamaGenerateRequest extends OllamaCommon {
  prompt?: string;
  system?: string;
  images?: string[];
  raw?: boolean;
  suffix?: string;
  template?: string;
  context?: number[];
}

export interface OllamaEmbedRequest {
  model?: string;
  input?: string | string[];
  truncate?: boolean;
  dimensions?: number;
  options?: OllamaOptions;
  keep_alive?: string | number;
}

export interface OllamaEmbeddingsRequest {
  model?: string;
  prompt?: string;
  options?: OllamaOptions;
  keep_alive?: string | number;
}

/** Ollama's timing and counts on a final answer (durations in nanoseconds). */
export interface OllamaStats {
  total_duration: number;
  load_duration: number;
  prompt_eval_count: number;
  prompt_eval_duration: number;
  eval_count: number;
  eval_duration: number;
}
