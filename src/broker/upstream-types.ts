// What an upstream client is: one request in, one reply out (the keep-alive HTTP/1.1 client and the fetch client both are one).
import type { HeaderJson } from "../net/captured-headers.ts";
/** The part of AbortSignal a client uses: an AbortSignal fits, and so does the broker's lighter Attempt. */
export interface AttemptSignal {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: EventListenerObject | (() => void)): void;
  removeEventListener(type: "abort", listener: EventListenerObject | (() => void)): void;
}

export interface UpstreamRequest {
  method: string;
  /** Path and query of the client's request; appended to the upstream's base URL. */
  target: string;
  /** The client's headers (the rules of headers.ts are applied here); null for none. */
  headers: Headers | null;
  /** The same headers as `headers.toJSON()` made them, when the Exchange already has that (it shares it with its record). */
  headerJson?: HeaderJson | null;
  body: Uint8Array | ReadableStream<Uint8Array> | null;
  /** The length of a stream body when the client announced it, else -1. */
  bodyLength: number;
  signal: AttemptSignal;
}

export interface ReadResult {
  done: boolean;
  value: Uint8Array[];
}

export interface UpstreamReply {
  readonly status: number;
  readonly statusText: string;
  /** Whether a body follows. */
  readonly hasBody: boolean;
  /** A response header (name in lower case), or null. */
  header(name: string): string | null;
  /** The headers to pass to the client: hop-by-hop and framing headers removed (headers.ts). */
  clientHeaders(): Headers;
  /** The whole body. */
  bytes(): Promise<Uint8Array>;
  /** The whole body when it has already arrived complete (taken, as bytes() would), else null: no promise to wait on. */
  bytesNow?(): Uint8Array | null;
  /** Every part received so far (waits for one when there is none); done once the body is complete. */
  read(): Promise<ReadResult> | ReadResult;
  /** Abandons the rest of the body. */
  cancel(): void;
  /** Read whole before the head is sent, whatever its size (a translated answer: its status is known only at the end). */
  readonly whole?: boolean;
}

export interface UpstreamClient {
  send(req: UpstreamRequest): Promise<UpstreamReply>;
  /** Closes idle connections; requests in flight finish. */
  close(): void;
}
