// Inside the private network namespace: start the command, wait for "api: ... listening url=", GET /healthz, SIGTERM, report JSON on stdout.
export {}; // a module: top-level await, and its own scope
const [timeoutArg, ...cmd] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg);
const proc = Bun.spawn(cmd, { env: process.env, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
let stderr = "";
let apiUrl: string | null = null;
const seen = new Promise<void>((resolve) => {
  (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr) {
      stderr += dec.decode(chunk, { stream: true });
      const m = /api: .*listening.* url=(\S+)/.exec(stderr);
      if (m && !apiUrl) {
        apiUrl = m[1]!;
        resolve();
      }
    }
    resolve();
  })();
});
await Promise.race([seen, Bun.sleep(timeoutMs)]);
// The "started" line follows the listeners; give the daemon a moment to finish starting before stopping it.
for (let i = 0; i < 50 && !/daemon: started/.test(stderr) && proc.exitCode === null; i++) await Bun.sleep(100);
let health: { status: number; body: string } | null = null;
if (apiUrl) {
  try {
    const r = await fetch(`${apiUrl}/healthz`);
    health = { status: r.status, body: await r.text() };
  } catch {}
}
const t0 = performance.now();
if (proc.exitCode === null) proc.kill("SIGTERM");
const exitCode = await Promise.race([proc.exited, Bun.sleep(10_000).then(() => null)]);
const stopMs = Math.round(performance.now() - t0);
if (exitCode === null) proc.kill("SIGKILL");
await Bun.sleep(50);
console.log(JSON.stringify({ health, exitCode, stopMs, stderr }));
process.exit(0); // pending timers from the races above must not keep this process alive
