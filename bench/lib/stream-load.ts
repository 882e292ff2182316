// Streaming load generator, run as its own process so it does not share an event loop with what it measures.
//
//   bun bench/lib/stream-load.ts --url http://127.0.0.1:PORT --streams N --tokens T [--rounds R]
//
// Opens N concurrent /api/generate streams (R rounds one after another) and prints one JSON line:
// { ttftMs: [...], chunks, wallMs, errors } where chunks counts NDJSON lines received.
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    streams: { type: "string", default: "1" },
    tokens: { type: "string", default: "200" },
    rounds: { type: "string", default: "1" },
    model: { type: "string", default: "bench:latest" },
  },
});
const url = `${values.url}/api/generate`;
const streams = Number(values.streams);
const body = JSON.stringify({ model: values.model, prompt: "benchmark", stream: true, options: { num_predict: Number(values.tokens) } });

async function one(): Promise<{ ttft: number; chunks: number; ok: boolean }> {
  const t0 = performance.now();
  let ttft = -1;
  let chunks = 0;
  try {
    const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json" } });
    if (!res.ok || !res.body) return { ttft: -1, chunks: 0, ok: false };
    for await (const c of res.body) {
      if (ttft < 0) ttft = performance.now() - t0;
      const buf = Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) chunks++;
    }
    return { ttft, chunks, ok: true };
  } catch {
    return { ttft, chunks, ok: false };
  }
}

const ttftMs: number[] = [];
let chunks = 0;
let errors = 0;
const t0 = performance.now();
for (let r = 0; r < Number(values.rounds); r++) {
  const results = await Promise.all(Array.from({ length: streams }, one));
  for (const x of results) {
    if (!x.ok) errors++;
    else ttftMs.push(x.ttft);
    chunks += x.chunks;
  }
}
console.log(JSON.stringify({ ttftMs, chunks, wallMs: performance.now() - t0, errors }));
