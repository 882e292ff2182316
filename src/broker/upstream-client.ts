// How the broker talks to an upstream: one request in, one reply out. Two implementations: the keep-alive HTTP/1.1
// client (http1-client.ts, for plain http:// upstreams) and Bun's fetch (https://, URLs with credentials, or when
// CLOUDTOLOCALLLM_BROKER_CLIENT=fetch).
import { clientHeaders, upstreamHeaders } from "./headers.ts";
import { Http1Pool } from "./http1-client.ts";
import type { Upstream } from "./upstream.ts";
import type { AttemptSignal, UpstreamClient, UpstreamReply, UpstreamRequest } from "./upstream-types.ts";

export type { AttemptSignal, ReadResult, UpstreamClient, UpstreamReply, UpstreamRequest } from "./upstream-types.ts";

/**
 * The cancel switch of one attempt: what an AbortController does, without the DOM event machinery (an
 * AbortController and its listener cost more than the rest of the attempt's bookkeeping together).
 */
type AbortListener = EventListenerObject | (() => void);

export class Attempt implements AttemptSignal {
  aborted = false;
  /** The first listener (an attempt has one: its reply), and a list only for more: no array per request. */
  private first: AbortListener | null = null;
  private more: AbortListener[] | null = null;

  addEventListener(_type: "abort", l: AbortListener): void {
    if (this.first === null && this.more === null) this.first = l;
    else (this.more ??= []).push(l);
  }

  removeEventListener(_type: "abort", l: AbortListener): void {
    if (this.first === l) {
      this.first = null;
      return;
    }
    const i = this.more?.indexOf(l) ?? -1;
    if (i >= 0) this.more!.splice(i, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const first = this.first;
    const more = this.more;
    this.first = this.more = null;
    if (first) call(first);
    if (more) for (const l of more) call(l);
  }
}

function call(l: AbortListener): void {
  if (typeof l === "function") l();
  else l.handleEvent(new Event("abort"));
}

type FetchFn = typeof fetch;

class FetchReply implements UpstreamReply {
  private reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  constructor(private readonly res: Response) {}
  get status() {
    return this.res.status;
  }
  get statusText() {
    return this.res.statusText;
  }
  get hasBody() {
    return this.res.body !== null;
  }
  header(name: string) {
    return this.res.headers.get(name);
  }
  clientHeaders() {
    return clientHeaders(this.res.headers);
  }
  bytes() {
    return this.res.bytes();
  }
  read() {
    if (!this.reader) {
      if (!this.res.body) return { done: true, value: [] };
      this.reader = this.res.body.getReader();
    }
    return this.reader.readMany();
  }
  cancel() {
    const done = this.reader ? this.reader.cancel() : this.res.body?.cancel();
    void done?.catch(() => {});
  }
}

/** Bun's fetch on a pool of its own (Bun.FetchSession when this Bun has it). */
export class FetchClient implements UpstreamClient {
  readonly fetch: FetchFn;
  private readonly session: { close(): void } | null;

  constructor(private readonly u: Upstream) {
    const FS = (Bun as unknown as { FetchSession?: new () => { fetch: FetchFn; close(): void } }).FetchSession;
    const s = FS ? new FS() : null;
    this.fetch = s ? (s.fetch as FetchFn) : fetch;
    this.session = s;
  }

  async send(req: UpstreamRequest): Promise<UpstreamReply> {
    if (this.u.tlsError) throw new Error(this.u.tlsError);
    // fetch takes a real AbortSignal only.
    const ac = new AbortController();
    if (req.signal.aborted) ac.abort();
    else req.signal.addEventListener("abort", () => ac.abort());
    const res = await this.fetch(this.u.base + this.u.withQuery(req.target), {
      method: req.method,
      headers: upstreamHeaders(req.headers, this.u),
      body: req.body,
      signal: ac.signal,
      redirect: "manual",
      // Its own trust (ca_file, tls_insecure), never NODE_TLS_REJECT_UNAUTHORIZED (upstream-tls.ts).
      tls: this.u.tls,
      decompress: false,
      timeout: false,
      // Required by the fetch standard for stream bodies.
      duplex: "half",
    } as RequestInit);
    return new FetchReply(res);
  }

  close(): void {
    this.session?.close();
  }
}

/** Which client serves an upstream: the HTTP/1.1 pool for plain http:// URLs without credentials, else fetch. */
export function http1Eligible(u: Upstream): boolean {
  if (process.env.CLOUDTOLOCALLLM_BROKER_CLIENT === "fetch") return false;
  const url = new URL(u.base);
  return url.protocol === "http:" && !url.username && !url.password;
}

export function createUpstreamClient(u: Upstream): UpstreamClient {
  return http1Eligible(u) ? new Http1Pool(u) : new FetchClient(u);
}
