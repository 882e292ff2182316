// What a dialect plan is: per upstream, the request to send (native or translated) and what stands between its answer and the client.
import type { KindName } from "../../kinds/index.ts";
import type { StreamTransform } from "../stream-transform.ts";

/** The client dialects the broker routes on its own terms (OpenAI's chat routes pass through as they are). */
export type DialectName = "ollama" | "anthropic-messages" | "anthropic-count-tokens" | "openai-responses";

/**
 * Between an upstream's answer and the client: a transform of its body (null: as it is), the content type to say (null:
 * the upstream's) and, rarely, another status (count_tokens answered by the broker when the upstream has no such route).
 */
export interface AnswerPlan {
  transform: StreamTransform | null;
  contentType: string | null;
  status?: number;
  /**
   * Settled (never rejected) before a whole answer's transform ends: the transform also reads a GET made beside the
   * request (DialectAttempt.aside), and this is when that read is in hand.
   */
  before?: Promise<unknown>;
}

/** One attempt's request, for the upstream picked. */
export interface DialectAttempt {
  /** The method to send, when not the client's (a show answered from a GET of the model list). */
  method?: string;
  /** Path and query to send. */
  target: string;
  body: Uint8Array | ReadableStream<Uint8Array> | null;
  bodyLength: number;
  /** Whether the request was translated (for the inspector and the bench). */
  translated: boolean;
  /**
   * Path and query of a GET sent to the same upstream beside the request (Ollama's /api/show for llama.cpp: /props);
   * its JSON body, or null when it failed, is handed to `answer` as `aside`.
   */
  aside?: string;
  answer(status: number, contentType: string | null, aside?: Promise<unknown> | null): AnswerPlan;
}

export interface DialectPlan {
  readonly dialect: DialectName;
  /** Whether an upstream of this kind (and version, as its checks read it) can answer, natively or translated (failover skips the others). */
  takes(kind: KindName, version?: string | null): boolean;
  /** The request for an upstream of this kind and version; throws an HttpError when it cannot be made (a body too large to translate). */
  attempt(kind: KindName, target: string, body: Uint8Array | ReadableStream<Uint8Array> | null, bodyLength: number, version?: string | null): DialectAttempt;
  /** The answer when no enabled upstream takes the request (count_tokens: the broker's estimate; the others take every kind). */
  none(): Response;
}
