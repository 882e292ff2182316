// One client, one request at a time: small-request latencies and whole-stream rates, as bench/tunnel.ts and
// bench/relay-cluster.ts measure a path (the same code for both, so their figures compare).
import { median } from "./stats.ts";

/** `count` GETs of /api/version after `warm` unmeasured ones; each latency in ms, to the last body byte. */
export async function smallLatencies(base: string, headers: Record<string, string>, warm: number, count: number): Promise<number[]> {
  const lat: number[] = [];
  for (let i = 0; i < warm + count; i++) {
    const t0 = performance.now();
    const r = await fetch(`${base}/api/version`, { headers });
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`${base}: /api/version answered ${r.status}`);
    if (i >= warm) lat.push(performance.now() - t0);
  }
  return lat;
}

/** `rounds` /api/generate streams of `tokens` tokens one after another: median time to first token and NDJSON lines/s. */
export async function streamRates(base: string, headers: Record<string, string>, rounds: number, tokens: number): Promise<{ ttft: number; chunksPerSec: number }> {
  const ttfts: number[] = [];
  const rates: number[] = [];
  const body = JSON.stringify({ model: "bench:latest", prompt: "benchmark", stream: true, options: { num_predict: tokens } });
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const res = await fetch(`${base}/api/generate`, { method: "POST", body, headers: { ...headers, "content-type": "application/json" } });
    if (!res.ok || !res.body) throw new Error(`${base}: /api/generate answered ${res.status}`);
    let first = -1;
    let lines = 0;
    const dec = new TextDecoder();
    for await (const c of res.body) {
      if (first < 0) first = performance.now();
      lines += dec.decode(c, { stream: true }).split("\n").length - 1;
    }
    ttfts.push(first - t0);
    // Whole-stream rate: the fake answers as fast as it can, so this is what the path itself can carry.
    rates.push(lines / ((performance.now() - t0) / 1000));
  }
  return { ttft: median(ttfts), chunksPerSec: median(rates) };
}
