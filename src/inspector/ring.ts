// The request inspector's bounded ring: the last N requests, bodies dropped unless capture is on, and capped when it is.
import type { InspectedRequest, InspectorOptions, InspectorService, RequestFilter, RequestRecord } from "../core/contracts.ts";

export type { InspectedRequest, InspectorOptions, InspectorService, RequestFilter } from "../core/contracts.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Cuts a string to at most `cap` UTF-8 bytes without splitting a character. */
export function capBody(body: string, cap: number): { text: string; truncated: boolean } {
  // Fast path: a string of n UTF-16 units is at most 3n UTF-8 bytes.
  if (body.length * 3 <= cap) return { text: body, truncated: false };
  const bytes = encoder.encode(body);
  if (bytes.length <= cap) return { text: body, truncated: false };
  let end = cap;
  // Back off over UTF-8 continuation bytes (10xxxxxx) so the cut lands on a character boundary.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return { text: decoder.decode(bytes.subarray(0, end)), truncated: true };
}

export function matchesStatus(rec: RequestRecord, status: string): boolean {
  if (/^\d{3}$/.test(status)) return rec.status === Number(status);
  if (status === "error") return rec.error !== null || rec.status >= 400 || rec.status === 0;
  const m = /^([1-5])xx$/.exec(status);
  if (!m) return true;
  return Math.floor(rec.status / 100) === Number(m[1]);
}

export function matches(rec: RequestRecord, f: RequestFilter): boolean {
  if (f.source && rec.source !== f.source) return false;
  if (f.upstream && rec.upstream !== f.upstream) return false;
  if (f.model && rec.model !== f.model) return false;
  if (f.method && rec.method.toUpperCase() !== f.method.toUpperCase()) return false;
  if (f.status && !matchesStatus(rec, f.status)) return false;
  if (f.path && !rec.path.toLowerCase().includes(f.path.toLowerCase())) return false;
  return true;
}

export class RequestRing {
  private buf: (InspectedRequest | undefined)[] = [];
  /** Index of the next write. */
  private head = 0;
  private count = 0;
  private opts: InspectorOptions;

  constructor(opts: InspectorOptions) {
    this.opts = { ...opts };
    this.buf = new Array(Math.max(0, opts.size));
  }

  options(): InspectorOptions {
    return { ...this.opts };
  }

  size(): number {
    return this.count;
  }

  /** Stores a copy of the record, shaped by the body policy; returns what was kept (null when size is 0). */
  add(rec: RequestRecord): InspectedRequest | null {
    if (this.opts.size === 0) return null;
    const kept = this.shape(rec);
    this.buf[this.head] = kept;
    this.head = (this.head + 1) % this.opts.size;
    if (this.count < this.opts.size) this.count++;
    return kept;
  }

  /** Newest first. */
  list(filter: RequestFilter = {}): InspectedRequest[] {
    const out: InspectedRequest[] = [];
    const limit = filter.limit ?? Infinity;
    for (let k = 0; k < this.count && out.length < limit; k++) {
      const rec = this.at(k)!;
      if (filter.after !== undefined && rec.id === filter.after) break;
      if (matches(rec, filter)) out.push(rec);
    }
    return out;
  }

  get(id: string): InspectedRequest | undefined {
    for (let k = 0; k < this.count; k++) if (this.at(k)!.id === id) return this.at(k);
    return undefined;
  }

  clear(): void {
    this.buf = new Array(this.opts.size);
    this.head = 0;
    this.count = 0;
  }

  /** Applies new options: a smaller ring drops the oldest records; turning capture off forgets every kept body. */
  configure(next: InspectorOptions): void {
    const keep = this.list().slice(0, next.size).reverse(); // oldest first
    this.opts = { ...next };
    this.buf = new Array(Math.max(0, next.size));
    this.head = 0;
    this.count = 0;
    for (const rec of keep) this.add(rec);
  }

  /** k-th newest record (0 = newest). */
  private at(k: number): InspectedRequest | undefined {
    const n = this.opts.size;
    return this.buf[(this.head - 1 - k + n * 2) % n];
  }

  private shape(rec: RequestRecord): InspectedRequest {
    // One copy (the rest), with the body fields left out, so later changes to the event's object cannot leak in.
    const { requestBody, responseBody, requestBodyTruncated, responseBodyTruncated, ...rest } = rec;
    const out: InspectedRequest = rest;
    if (!this.opts.captureBodies) return out;
    // The broker already cuts at the cap and flags it; a smaller cap here cuts again.
    if (typeof requestBody === "string") {
      const c = capBody(requestBody, this.opts.bodyCap);
      out.requestBody = c.text;
      if (c.truncated || requestBodyTruncated === true) out.requestBodyTruncated = true;
    }
    if (typeof responseBody === "string") {
      const c = capBody(responseBody, this.opts.bodyCap);
      out.responseBody = c.text;
      if (c.truncated || responseBodyTruncated === true) out.responseBodyTruncated = true;
    }
    return out;
  }
}
