// Runs `bun test` (arguments pass through) and ends with one plain "N passed, N failed" line that any CI can read.
export {}; // a module: top-level await, and its own scope
const args = process.argv.slice(2);
// Integration tests start real processes on a possibly busy 2-core machine: 60 s per test unless told otherwise
// (bun's default is 5 s, and bunfig.toml's [test] section has no timeout setting).
if (!args.some((a) => a.startsWith("--timeout"))) args.unshift("--timeout=60000");
const proc = Bun.spawn([process.execPath, "test", ...args], { stdout: "pipe", stderr: "pipe", env: process.env }) as Bun.Subprocess<"ignore", "pipe", "pipe">;

const counts = { pass: 0, fail: 0, skip: 0, todo: 0 };
async function tee(stream: ReadableStream<Uint8Array>, out: NodeJS.WriteStream) {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    out.write(chunk);
    buf += dec.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = /^\s*(\d+) (pass|fail|skip|todo)\s*$/.exec(line.replace(/\x1b\[[0-9;]*m/g, ""));
      if (m) counts[m[2] as keyof typeof counts] = Number(m[1]);
    }
  }
}
await Promise.all([tee(proc.stdout, process.stdout), tee(proc.stderr, process.stderr)]);
const code = await proc.exited;
console.log(`\ntests: ${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped`);
process.exit(code !== 0 ? code : counts.fail > 0 ? 1 : counts.pass === 0 ? 1 : 0);
