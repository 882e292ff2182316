// The shapes of Anthropic's Messages API that the translation reads and writes (types only; chat completions' in ../chat-types.ts).

/** A content block of an Anthropic message (request or response); only the fields the translation reads are named. */
export type AnthropicBlock =
  | { type: "text"; text: string }
  | { type: "image"; source: { type: "base64"; media_type: string; data: string } | { type: "url"; url: string } }
  | { type: "document"; source: { type: string; media_type?: string; data?: string; url?: string }; title?: string }
  | { type: "tool_use"; id: string; name: string; input: unknown }
  | { type: "tool_result"; tool_use_id: string; content?: string | AnthropicBlock[]; is_error?: boolean }
  | { type: "thinking"; thinking: string; signature?: string }
  | { type: "redacted_thinking"; data: string };

export interface AnthropicMessage {
  role: "user" | "assistant";
  content: string | AnthropicBlock[];
}

export interface AnthropicTool {
  /** Absent or "custom" for a client tool; a dated type ("web_search_20250305", "bash_20250124") for Anthropic's server tools. */
  type?: string;
  name: string;
  description?: string;
  input_schema?: unknown;
  /** Strict tool use: the call's input is guaranteed to match input_schema (OpenAI's function `strict`). */
  strict?: boolean;
}

export type AnthropicToolChoice = { type: "auto" | "any" | "none"; disable_parallel_tool_use?: boolean } | { type: "tool"; name: string; disable_parallel_tool_use?: boolean };

export interface AnthropicRequest {
  model: string;
  messages: AnthropicMessage[];
  system?: string | { type: "text"; text: string }[];
  max_tokens?: number;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stream?: boolean;
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  metadata?: { user_id?: string };
  /** Structured outputs (the answer's JSON schema) and how much effort the model spends. */
  output_config?: { format?: AnthropicOutputFormat | null; effort?: string | null };
  /** Extended thinking: a budget of tokens for it, off, or left to the model (adaptive). */
  thinking?: { type: "enabled"; budget_tokens: number } | { type: "disabled" } | { type: "adaptive" } | null;
  /** The structured outputs beta's spelling of output_config.format. */
  output_format?: AnthropicOutputFormat | null;
}

export interface AnthropicOutputFormat {
  type: "json_schema";
  schema: Record<string, unknown>;
}

export type StopReason = "end_turn" | "max_tokens" | "stop_sequence" | "tool_use" | "refusal" | "pause_turn";

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
}

/** A whole answer (stream: false), as the Messages API sends it. */
export interface AnthropicResponse {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: AnthropicBlock[];
  stop_reason: StopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

export type { ChatChoice, ChatChunk, ChatMessage, ChatPart, ChatRequest, ChatResponse, ChatToolCall, ChatUsage } from "../chat-types.ts";
