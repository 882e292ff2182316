// The shapes of OpenAI's chat completions that the dialect translations write and read (types only).

export type ChatPart = { type: "text"; text: string } | { type: "image_url"; image_url: { url: string } };

export interface ChatToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string | ChatPart[] }
  | { role: "assistant"; content: string | null; tool_calls?: ChatToolCall[] }
  | { role: "tool"; tool_call_id: string; content: string };

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  max_tokens?: number;
  /** OpenAI's newer name of the limit, the only one its reasoning models take (chat-model-fields.ts). */
  max_completion_tokens?: number;
  stop?: string[];
  temperature?: number;
  top_p?: number;
  seed?: number;
  frequency_penalty?: number;
  presence_penalty?: number;
  /** Sampling options some servers take beyond OpenAI's API (src/kinds/: samplerOptions). */
  top_k?: number;
  min_p?: number;
  repeat_penalty?: number;
  typical_p?: number;
  stream?: boolean;
  stream_options?: { include_usage: boolean };
  tools?: { type: "function"; function: { name: string; description?: string; parameters: unknown; strict?: boolean } }[];
  tool_choice?: "auto" | "none" | "required" | { type: "function"; function: { name: string } };
  parallel_tool_calls?: boolean;
  response_format?: { type: "json_object" } | { type: "json_schema"; json_schema: { name: string; schema?: unknown; strict?: boolean; description?: string } };
  user?: string;
  /** How much a reasoning model reasons (OpenAI's o-series and gpt-5; vLLM passes it to the chat template). */
  reasoning_effort?: "none" | "minimal" | "low" | "medium" | "high" | "xhigh";
  /** The log probabilities of the answer's tokens, and of the `top_logprobs` likeliest at each position. */
  logprobs?: boolean;
  top_logprobs?: number;
  /** Variables for the server's Jinja chat template (vLLM, llama.cpp): how thinking is switched on or off (src/kinds/: thinking). */
  chat_template_kwargs?: Record<string, boolean>;
}

export interface ChatUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  /** Of the prompt, the tokens the server had cached (OpenAI; vLLM with --enable-prompt-tokens-details; llama.cpp). */
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  /** Of the completion, the tokens spent reasoning (OpenAI's reasoning models; vLLM with a reasoning parser). */
  completion_tokens_details?: { reasoning_tokens?: number | null } | null;
}

/** One token's log probability (asked by `logprobs`), the likeliest alternatives in `top_logprobs`: Responses' and Ollama's are the same shape. */
export interface ChatLogprob {
  token: string;
  logprob: number;
  bytes?: number[] | null;
  top_logprobs?: { token: string; logprob: number; bytes?: number[] | null }[];
}

/** One choice of a whole answer; `stop_reason` is vLLM's: the stop string that ended it. */
export interface ChatChoice {
  index?: number;
  logprobs?: { content?: ChatLogprob[] | null } | null;
  message?: { role?: string; content?: string | null; reasoning_content?: string | null; reasoning?: string | null; tool_calls?: ChatToolCall[] | null };
  finish_reason?: string | null;
  stop_reason?: string | number | null;
}

export interface ChatResponse {
  id?: string;
  model?: string;
  choices?: ChatChoice[];
  usage?: ChatUsage | null;
}

/** One streamed chunk (`data: {…}`): deltas of content, reasoning and tool calls (arguments arrive in pieces). */
export interface ChatChunk {
  id?: string;
  model?: string;
  choices?: {
    index?: number;
    logprobs?: { content?: ChatLogprob[] | null } | null;
    delta?: {
      role?: string;
      content?: string | null;
      reasoning_content?: string | null;
      reasoning?: string | null;
      tool_calls?: { index?: number; id?: string; type?: string; function?: { name?: string; arguments?: string } }[] | null;
    };
    finish_reason?: string | null;
    stop_reason?: string | number | null;
  }[];
  usage?: ChatUsage | null;
}
