// Benchmark: the tunnel protocol's own CPU per request, in one process (no sockets, no HTTP server): relay forward() and agent serveStream() over two in-memory sessions.
//
//   bun bench/protocol-cpu.ts [--before COMMIT] [--rounds N] [--concurrency C]
//
// What the hot-paths table cannot separate: the relay's and the agent's protocol code (frames, BATCH, streams, heads,
// held answers) apart from Bun's HTTP server, the WebSocket and the kernel. A small generate request and a small sized
// answer, C at a time, resume and BATCH on, as between a relay and an agent of this build. Each subject runs in its own
// process, pinned to CPU 1, rounds interleaved with --before COMMIT's tree (git archive); CPU µs per request, medians.
import { join, resolve } from "node:path";
import { oldRelease } from "../tests/helpers/old-release.ts";
import { median } from "./lib/stats.ts";

const ROOT = resolve(import.meta.dir, "..");
const args = process.argv.slice(2);
const opt = (name: string, d: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : d);

if (args[0] === "--child") {
  // One subject: `--child ROOT CONCURRENCY`; prints the CPU µs per request.
  const root = args[1]!;
  const conc = Number(args[2]);
  const { Session } = await import(join(root, "src/protocol/session.ts"));
  const { forward, serveStream } = await import(join(root, "src/protocol/http-over-stream.ts"));
  const { AnswerResumes } = await import(join(root, "src/protocol/resumable-answer.ts"));
  const resumes = new AnswerResumes();
  // eslint-disable-next-line prefer-const
  let relay: InstanceType<typeof Session>, agent: InstanceType<typeof Session>;
  // Each message delivered a turn later, as a socket would: the frames of one turn share a BATCH.
  relay = new Session({ role: "relay", batch: true, onResume: () => {}, sink: { send: (b: Uint8Array) => setImmediate(() => agent.receive(b.slice())), close: () => {} } });
  const ANSWER = JSON.stringify({ model: "bench:latest", created_at: "2026-01-01T00:00:00Z", response: "hi", done: true, done_reason: "stop", eval_count: 1 });
  agent = new Session({
    role: "agent",
    batch: true,
    sink: { send: (b: Uint8Array) => setImmediate(() => relay.receive(b.slice())), close: () => {} },
    onStream: (s: Parameters<typeof serveStream>[0]) =>
      void serveStream(s, async (req: Request) => (await req.bytes(), new Response(ANSWER, { headers: { "content-type": "application/json; charset=utf-8", "content-length": String(ANSWER.length) } })), { resume: resumes }),
    onResumed: (id: number, token: string, offset: number) => resumes.resumed(agent, id, token, offset),
    onResumeRefused: () => {},
  });
  resumes.attach(agent);
  const BODY = JSON.stringify({ model: "bench:latest", prompt: "hi", stream: false, options: { num_predict: 1 } });
  const one = async () => {
    const req = new Request("http://relay/t/alice/api/generate", { method: "POST", body: BODY, headers: { "content-type": "application/json", "content-length": String(BODY.length) } });
    const res = await forward(relay, req, "/api/generate", { firstByteTimeoutMs: 30_000, resumable: (s: { directReadable(): ReadableStream<Uint8Array> }) => s.directReadable() });
    await res.bytes();
  };
  const run = async (n: number) => {
    let left = n;
    await Promise.all(Array.from({ length: conc }, async () => { while (left-- > 0) await one(); }));
  };
  await run(20_000); // the JIT's tiers settle
  const N = 60_000;
  const c0 = process.cpuUsage();
  await run(N);
  const c = process.cpuUsage(c0);
  console.log(((c.user + c.system) / N).toFixed(2));
  process.exit(0);
}

const rounds = Number(opt("--rounds", "5"));
const conc = opt("--concurrency", "16");
const before = args.includes("--before") ? opt("--before", "") : null;
const old = before ? oldRelease(before) : null;
const subjects: [string, string][] = [["now", ROOT], ...(old && before ? [[before, old.dir] as [string, string]] : [])];
const us: Record<string, number[]> = Object.fromEntries(subjects.map(([n]) => [n, []]));
try {
  for (let r = 0; r < rounds; r++) {
    for (const [name, root] of r % 2 ? [...subjects].reverse() : subjects) {
      const p = Bun.spawn(["taskset", "-c", "1", process.execPath, import.meta.path, "--child", root, conc], { stdout: "pipe", stderr: "inherit" });
      const out = (await new Response(p.stdout).text()).trim();
      if ((await p.exited) !== 0) throw new Error(`${name}: the subject failed`);
      us[name]!.push(Number(out));
    }
  }
} finally {
  if (old) Bun.spawnSync(["rm", "-rf", old.dir]);
}
for (const [name] of subjects) console.log(`${name}: ${median(us[name]!).toFixed(1)} µs CPU per request (relay + agent protocol code, ${conc} at a time); rounds ${us[name]!.join(", ")}`);
if (before) console.log(`now / ${before}: ${(median(us.now!) / median(us[before]!)).toFixed(2)}×`);
