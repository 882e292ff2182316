// The shapes of OpenAI's Responses API that the translation reads and writes (types only; chat completions' in ../chat-types.ts).
import type { ChatLogprob } from "../chat-types.ts";

/** A content part of an input message. */
export type InputPart =
  | { type: "input_text"; text: string }
  | { type: "output_text"; text: string }
  | { type: "refusal"; refusal: string }
  | { type: "input_image"; image_url?: string; file_id?: string; detail?: string }
  | { type: "input_file"; [k: string]: unknown };

/** One item of `input`: a message, a function call the model made, its output, or the model's reasoning. */
export type InputItem =
  | { type?: "message"; role: "user" | "system" | "developer" | "assistant"; content: string | InputPart[] }
  | { type: "function_call"; call_id: string; name: string; arguments: string; id?: string }
  | { type: "function_call_output"; call_id: string; output: string | InputPart[] }
  | { type: "reasoning"; [k: string]: unknown }
  | { type: string; [k: string]: unknown };

export interface ResponsesTool {
  type: string;
  name?: string;
  description?: string;
  parameters?: unknown;
  strict?: boolean;
}

export interface ResponsesRequest {
  model: string;
  input: string | InputItem[];
  instructions?: string | null;
  tools?: ResponsesTool[];
  tool_choice?: "auto" | "none" | "required" | { type: "function"; name: string } | { type: string };
  parallel_tool_calls?: boolean;
  max_output_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  user?: string;
  stream?: boolean;
  previous_response_id?: string | null;
  background?: boolean | null;
  /** How much a reasoning model reasons (`effort`: chat completions' reasoning_effort); `summary` of it is OpenAI's own. */
  reasoning?: { effort?: string | null; summary?: string | null } | null;
  /** Log probabilities: asked by `include: ["message.output_text.logprobs"]`, `top_logprobs` the alternatives per token. */
  include?: string[] | null;
  top_logprobs?: number | null;
  text?: { format?: { type: "text" } | { type: "json_object" } | { type: "json_schema"; name: string; schema?: unknown; strict?: boolean; description?: string } };
}

export type OutputItem =
  | { type: "message"; id: string; status: "in_progress" | "completed" | "incomplete"; role: "assistant"; content: { type: "output_text"; text: string; annotations: unknown[]; logprobs?: ChatLogprob[] }[] }
  | { type: "function_call"; id: string; call_id: string; name: string; arguments: string; status: "in_progress" | "completed" | "incomplete" }
  /** The model's reasoning as the server streamed it (chat completions' reasoning_content): its text, no summary. */
  | { type: "reasoning"; id: string; summary: unknown[]; content: { type: "reasoning_text"; text: string }[]; status: "in_progress" | "completed" | "incomplete" };

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** A response object, as the Responses API returns it whole and in its stream's response.* events. */
export interface ResponseObject {
  id: string;
  object: "response";
  created_at: number;
  status: "in_progress" | "completed" | "incomplete" | "failed";
  model: string;
  output: OutputItem[];
  usage: ResponsesUsage | null;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: string } | null;
  instructions: string | null;
  parallel_tool_calls: boolean;
  tool_choice: unknown;
  tools: unknown[];
  temperature: number | null;
  top_p: number | null;
  max_output_tokens: number | null;
  previous_response_id: null;
  store: false;
  text: { format: unknown };
  metadata: Record<string, string>;
}
