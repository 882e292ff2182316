// A RequestRecord for tests (inspector ring, /api/v1/requests): unique ids, one second apart, fields overridable.
import type { RequestRecord } from "../../src/core/contracts.ts";

let n = 0;

export function requestRecord(over: Partial<RequestRecord> = {}): RequestRecord {
  n++;
  return {
    id: `r${n}`,
    time: new Date(1_700_000_000_000 + n * 1000).toISOString(),
    source: "local",
    method: "POST",
    path: "/api/chat",
    model: "llama3",
    upstream: "local",
    status: 200,
    ttfbMs: 12,
    durationMs: 100,
    tokensPerSec: 40,
    bytesIn: 10,
    bytesOut: 20,
    error: null,
    ...over,
  };
}
