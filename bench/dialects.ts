// Benchmark: what translating Anthropic's Messages API costs in time to first token, side by side in one run.
//
//   bun bench/dialects.ts [--quick]
//
// One daemon in front of two fake upstreams (separate processes): an Ollama-kind one that serves /v1/messages itself
// (the broker passes the stream through, reading its usage) and an OpenAI-only one (the broker translates the request
// to chat completions and the SSE stream back to Anthropic's events). Streaming /v1/messages requests, one at a time,
// interleaved in each round: direct to each fake (Messages to the Ollama-kind one, chat completions to the OpenAI-only
// one), through the broker passed through, through the broker translated. Time to first token = from sending the request
// to the first token's event at the client (text_delta; a chat chunk's "content" direct to the OpenAI-only fake); also
// the whole stream's time. Medians over every request of every round. Each broker path's cost is its median over its own
// upstream's direct median; translation's added time is the translated path's cost less the passed-through path's.
// Prints a markdown table and writes it to bench/results/dialects.md.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { removeHome, startDaemon } from "../tests/helpers/daemon.ts";
import { spawnListening } from "./lib/proc.ts";
import { median } from "./lib/stats.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const quick = process.argv.includes("--quick");
const P = quick ? { rounds: 3, perRound: 15, tokens: 10 } : { rounds: 5, perRound: 40, tokens: 20 };
/** The fake's delay before each token: the first token is an event of its own, as from a real model. */
const DELAY_MS = 2;

const fake = (kind: string, model: string) =>
  spawnListening([BUN, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", String(P.tokens), "--delay-ms", String(DELAY_MS), "--models", model, "--kind", kind]);
const native = await fake("ollama", "nat:1b");
const plain = await fake("openai", "pl:1b");
const d = await startDaemon({
  config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "native"\nkind = "ollama"\nurl = "${native.url}"\n[[upstreams]]\nname = "plain"\nkind = "openai"\nurl = "${plain.url}"\n`,
  waitFor: ["api", "broker"],
});
const broker = d.urls.broker!;

interface Timing {
  ttft: number;
  total: number;
}

/** One streaming request (Messages, or chat completions with `chat`): ms to the first token's event and to the end of the stream. */
async function once(base: string, model: string, chat = false): Promise<Timing> {
  const body = JSON.stringify({ model, max_tokens: P.tokens, stream: true, messages: [{ role: "user", content: "hi" }] });
  const t0 = performance.now();
  const res = await fetch(`${base}${chat ? "/v1/chat/completions" : "/v1/messages"}`, { method: "POST", headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" }, body });
  if (res.status !== 200) throw new Error(`${base} ${model}: ${res.status} ${await res.text()}`);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let seen = "";
  let ttft = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (ttft === 0) {
      seen += dec.decode(value, { stream: true });
      if (seen.includes(chat ? '"content":"tok' : '"text_delta"')) ttft = performance.now() - t0;
    }
  }
  if (ttft === 0) throw new Error(`${base} ${model}: no text_delta in the stream`);
  return { ttft, total: performance.now() - t0 };
}

const SUBJECTS = [
  { name: "direct to the Ollama-kind fake (`/v1/messages`)", base: native.url, model: "nat:1b", chat: false },
  { name: "broker, passed through to it", base: broker, model: "nat:1b", chat: false },
  { name: "direct to the OpenAI-only fake (`/v1/chat/completions`)", base: plain.url, model: "pl:1b", chat: true },
  { name: "broker, translated for it (`/v1/messages` → chat completions → Anthropic's events)", base: broker, model: "pl:1b", chat: false },
] as const;
const results = SUBJECTS.map(() => ({ ttft: [] as number[], total: [] as number[] }));

try {
  // Warm-up: connections, JIT, the upstreams' health checks.
  for (let i = 0; i < 10; i++) for (const s of SUBJECTS) await once(s.base, s.model, s.chat);
  for (let r = 0; r < P.rounds; r++) {
    for (let i = 0; i < P.perRound; i++) {
      // Interleaved: each subject in turn, so the machine's noise falls on all of them alike.
      for (let k = 0; k < SUBJECTS.length; k++) {
        const t = await once(SUBJECTS[k]!.base, SUBJECTS[k]!.model, SUBJECTS[k]!.chat);
        results[k]!.ttft.push(t.ttft);
        results[k]!.total.push(t.total);
      }
    }
  }
} finally {
  await d.stop();
  removeHome(d.home);
  native.proc.kill();
  plain.proc.kill();
}

const ms = (x: number) => x.toFixed(2);
const med = results.map((r) => ({ ttft: median(r.ttft), total: median(r.total) }));
const passCost = { ttft: med[1]!.ttft - med[0]!.ttft, total: med[1]!.total - med[0]!.total };
const translateCost = { ttft: med[3]!.ttft - med[2]!.ttft, total: med[3]!.total - med[2]!.total };
const lines = [
  `Streaming answers of ${P.tokens} tokens (the fake waits ${DELAY_MS} ms before each), one request at a time, ${P.rounds} rounds × ${P.perRound} requests per path, interleaved; medians in ms.`,
  "",
  "| path | time to first token | broker's cost | whole stream | broker's cost |",
  "|---|---:|---:|---:|---:|",
  `| ${SUBJECTS[0].name} | ${ms(med[0]!.ttft)} | | ${ms(med[0]!.total)} | |`,
  `| ${SUBJECTS[1].name} | ${ms(med[1]!.ttft)} | ${ms(passCost.ttft)} | ${ms(med[1]!.total)} | ${ms(passCost.total)} |`,
  `| ${SUBJECTS[2].name} | ${ms(med[2]!.ttft)} | | ${ms(med[2]!.total)} | |`,
  `| ${SUBJECTS[3].name} | ${ms(med[3]!.ttft)} | ${ms(translateCost.ttft)} | ${ms(med[3]!.total)} | ${ms(translateCost.total)} |`,
  "",
  `Translation's added time to first token over passing the stream through: **${ms(translateCost.ttft - passCost.ttft)} ms** ` +
    `(whole stream: ${ms(translateCost.total - passCost.total)} ms); a difference under a few tenths of a millisecond is within this machine's noise.`,
  "",
  `Run ${new Date().toISOString()}, Bun ${Bun.version}, ${navigator.hardwareConcurrency} CPUs.`,
];
const table = lines.join("\n");
console.log(table);
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/dialects.md"), `# Anthropic's Messages API translation (\`bench/dialects.ts\`)\n\n${table}\n`);
