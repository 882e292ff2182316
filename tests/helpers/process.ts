// A child process whose stderr is collected and can be waited on line by line (daemon, relay, ...); stdout is drained.
import type { Subprocess } from "bun";

export interface LoggedProc {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Everything the process wrote to stdout so far. */
  stdout(): string;
  /** Resolves with the first stderr line that matches (already written or still to come). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Number of stderr lines matching. */
  count(re: RegExp): number;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

export interface SpawnLoggedOptions {
  env: Record<string, string>;
  cwd?: string;
  /** Names the process in timeout and exit errors ("daemon", "relay"). */
  label?: string;
  /** When this environment variable is set in the test process, the child's stderr is echoed (e.g. "DEBUG_DAEMON"). */
  debugEnv?: string;
  /** Sees each decoded stderr chunk as it arrives. */
  onText?(text: string): void;
}

export function spawnLogged(cmd: string[], o: SpawnLoggedOptions): LoggedProc {
  const label = o.label ?? "process";
  const proc = Bun.spawn(cmd, { env: o.env, cwd: o.cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let err = "";
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr) {
      const text = dec.decode(chunk, { stream: true });
      err += text;
      if (o.debugEnv && process.env[o.debugEnv]) process.stderr.write(text);
      o.onText?.(text);
      for (const w of [...waiters]) {
        const hit = err.split("\n").find((l) => w.re.test(l));
        if (hit !== undefined) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(hit);
        }
      }
    }
  })();
  // Drain stdout so the child never blocks on a full pipe (kept: a log test reads both streams).
  let out = "";
  (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stdout) out += dec.decode(chunk, { stream: true });
  })();
  return {
    proc,
    stderr: () => err,
    stdout: () => out,
    waitFor(re, timeoutMs = 15_000) {
      const hit = err.split("\n").find((l) => re.test(l));
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((res, rej) => {
        const w = { re, resolve: (l: string) => (clearTimeout(t), res(l)) };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          rej(new Error(`timed out waiting for ${re} in ${label} stderr:\n${err}`));
        }, timeoutMs);
        waiters.push(w);
        proc.exited.then(() => {
          clearTimeout(t);
          rej(new Error(`${label} exited (${proc.exitCode}) before ${re}:\n${err}`));
        });
      });
    },
    count: (re) => err.split("\n").filter((l) => re.test(l)).length,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      return await proc.exited;
    },
  };
}
