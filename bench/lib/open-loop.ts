// Open-loop load generator, run as its own process: sends GETs on a fixed schedule (not waiting for answers) and reports latencies.
//
//   bun bench/lib/open-loop.ts --url URL --rate 500 --seconds 10 [--warmup 2] [--header "k: v"]
//
// Requests go out on schedule whether or not earlier ones were answered (no coordinated omission: a slow server
// faces the full rate). Latency is measured from the moment each request is sent, so the generator's own timer
// jitter is not blamed on the server. Prints one JSON line: { latenciesMs: [...], errors, sent, achievedRate }.
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    rate: { type: "string", default: "500" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    header: { type: "string", multiple: true, default: [] },
  },
});
const url = values.url!;
const rate = Number(values.rate);
const headers = Object.fromEntries(values.header!.map((h) => [h.slice(0, h.indexOf(":")).trim(), h.slice(h.indexOf(":") + 1).trim()]));
const interval = 1000 / rate;

async function run(seconds: number, record: boolean) {
  const latencies: number[] = [];
  let errors = 0;
  const inflight = new Set<Promise<void>>();
  const total = Math.round(seconds * rate);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const scheduled = t0 + i * interval;
    const wait = scheduled - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    const sent = performance.now();
    const p = fetch(url, { headers })
      .then(async (r) => {
        await r.arrayBuffer();
        if (!r.ok) errors++;
        else if (record) latencies.push(performance.now() - sent);
      })
      .catch(() => {
        errors++;
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
  return { latencies, errors, sent: total, achievedRate: total / ((performance.now() - t0) / 1000) };
}

await run(Number(values.warmup), false);
const r = await run(Number(values.seconds), true);
console.log(JSON.stringify({ latenciesMs: r.latencies, errors: r.errors, sent: r.sent, achievedRate: r.achievedRate }));
