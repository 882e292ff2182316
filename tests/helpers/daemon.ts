// Starts a real daemon process (from source, or the compiled binary) in a temporary HOME and finds its listeners.
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

export const REPO = resolve(import.meta.dir, "../..");
export const BUN = process.execPath;

export interface DaemonProc {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  home: string;
  env: Record<string, string>;
  configFile: string;
  /** Base URLs of the listeners, read from the "listening url=" log lines. */
  urls: Record<string, string>;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Resolves once a stderr line matches. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

export function tempHome(prefix = "c2l-test-"): string {
  const home = mkdtempSync(join(tmpdir(), prefix));
  for (const d of [".config", ".local/state", ".local/share", "run"]) mkdirSync(join(home, d), { recursive: true });
  return home;
}

export function homeEnv(home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_STATE_HOME: join(home, ".local/state"),
    XDG_DATA_HOME: join(home, ".local/share"),
    XDG_RUNTIME_DIR: join(home, "run"),
  };
}

export interface StartOptions {
  /** TOML written to the config file before start; omit to let the daemon create its defaults. */
  config?: string;
  home?: string;
  env?: Record<string, string>;
  args?: string[];
  /** Run this executable instead of `bun src/main.ts` (e.g. dist/cloudtolocalllm-tunnel). */
  binary?: string;
  /** Component names whose "listening url=" line must appear before start() resolves. Default ["api"]. */
  waitFor?: string[];
  timeoutMs?: number;
}

export async function startDaemon(opts: StartOptions = {}): Promise<DaemonProc> {
  const home = opts.home ?? tempHome();
  const env = { ...homeEnv(home), ...opts.env };
  const configFile = join(home, ".config/cloudtolocalllm/tunnel.toml");
  if (opts.config !== undefined) {
    mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
    writeFileSync(configFile, opts.config, { mode: 0o600 });
  }
  const cmd = opts.binary ? [opts.binary, "serve", ...(opts.args ?? [])] : [BUN, join(REPO, "src/main.ts"), "serve", ...(opts.args ?? [])];
  const proc = Bun.spawn(cmd, { env, cwd: home, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let err = "";
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const urls: Record<string, string> = {};
  (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr) {
      const text = dec.decode(chunk, { stream: true });
      err += text;
      if (process.env.DEBUG_DAEMON) process.stderr.write(text);
      for (const line of text.split("\n")) {
        const m = /^(?:<\d>)?\w+ ([\w.-]+): .*listening.* url=(\S+)/.exec(line);
        if (m) urls[m[1]!] = m[2]!;
      }
      for (const w of [...waiters]) {
        const hit = err.split("\n").find((l) => w.re.test(l));
        if (hit !== undefined) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(hit);
        }
      }
    }
  })();
  // Drain stdout so the child never blocks on a full pipe.
  (async () => {
    for await (const _ of proc.stdout);
  })();

  const d: DaemonProc = {
    proc,
    home,
    env,
    configFile,
    urls,
    stderr: () => err,
    waitFor(re, timeoutMs = 15_000) {
      const hit = err.split("\n").find((l) => re.test(l));
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((res, rej) => {
        const w = { re, resolve: (l: string) => (clearTimeout(t), res(l)) };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          rej(new Error(`timed out waiting for ${re} in daemon stderr:\n${err}`));
        }, timeoutMs);
        waiters.push(w);
        proc.exited.then(() => {
          clearTimeout(t);
          rej(new Error(`daemon exited (${proc.exitCode}) before ${re}:\n${err}`));
        });
      });
    },
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      return await proc.exited;
    },
  };
  for (const name of opts.waitFor ?? ["api"]) await d.waitFor(new RegExp(`${name}: .*listening.* url=`), opts.timeoutMs ?? 20_000);
  return d;
}

export function removeHome(home: string): void {
  rmSync(home, { recursive: true, force: true });
}
