// What a dialect plan is: per upstream, the request to send (native or translated) and what stands between its answer and the client.
import type { StreamTransform } from "../stream-transform.ts";

/** The client dialects the broker routes on its own terms (Ollama's and OpenAI's chat routes pass through as they are). */
export type DialectName = "anthropic-messages" | "anthropic-count-tokens" | "openai-responses";

/** Between an upstream's answer and the client: a transform of its body (null: as it is) and the content type to say (null: the upstream's). */
export interface AnswerPlan {
  transform: StreamTransform | null;
  contentType: string | null;
}

/** One attempt's request, for the upstream picked. */
export interface AttemptPlan {
  /** Path and query to send. */
  target: string;
  body: Uint8Array | ReadableStream<Uint8Array> | null;
  bodyLength: number;
  /** Whether the request was translated (for the inspector and the bench). */
  translated: boolean;
  answer(status: number, contentType: string | null): AnswerPlan;
}

export interface DialectPlan {
  readonly dialect: DialectName;
  /** Whether an upstream of this kind can answer, natively or translated (failover skips the others). */
  takes(kind: string): boolean;
  /** The request for an upstream of this kind; throws an HttpError when it cannot be made (a body too large to translate). */
  attempt(kind: string, target: string, body: Uint8Array | ReadableStream<Uint8Array> | null, bodyLength: number): AttemptPlan;
  /** The answer when no enabled upstream takes the request (Responses: 501; count_tokens: the broker's estimate). */
  none(): Response;
}
