// Small process helpers for benchmarks: free ports, waiting for HTTP, reading a process's memory from /proc.
import { readdirSync, readFileSync } from "node:fs";
import type { Subprocess } from "bun";

/** Where the kernel's ephemeral ports (port 0 binds, outgoing connections' own ports) begin: 32768 unless set otherwise. */
function ephemeralStart(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}
const PORTS_FROM = 20_000;
const PORTS_TO = Math.max(PORTS_FROM + 1000, ephemeralStart());

/**
 * A loopback port nothing listens on just now, for a process that binds it later. Picked at random below the ephemeral
 * range: a port 0 bind's port could be taken meanwhile by any outgoing connection's own port, and with test files running
 * in parallel there are thousands of those; a random pick in 12k ports meets another worker's pick only by chance.
 */
export function freePort(): number {
  for (;;) {
    const port = PORTS_FROM + Math.floor(Math.random() * (PORTS_TO - PORTS_FROM));
    try {
      const s = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
      s.stop(true);
      return port;
    } catch {
      // Held: another.
    }
  }
}

export async function waitHttp(url: string, timeoutMs: number, proc?: Subprocess): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      return;
    } catch {}
    if (proc?.exitCode !== null && proc?.exitCode !== undefined) throw new Error(`${url}: the process exited (${proc.exitCode})`);
    if (Date.now() > end) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await Bun.sleep(25);
  }
}

/** VmRSS and VmHWM (peak) of a process, in MB. */
export function memMb(pid: number): { rss: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

/** Starts `cmd`, resolves with the URL from its first "listening url=..." line. */
export async function spawnListening(cmd: string[], env?: Record<string, string>): Promise<{ proc: Subprocess<"ignore", "pipe", "inherit">; url: string }> {
  const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "inherit", env: { ...process.env, ...env } });
  const dec = new TextDecoder();
  let out = "";
  const reader = proc.stdout.getReader();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    out += dec.decode(value, { stream: true });
    const m = /listening url=(\S+)/.exec(out);
    if (m) {
      // Keep draining so the child never blocks on a full pipe.
      void (async () => {
        for (;;) if ((await reader.read()).done) break;
      })();
      return { proc, url: m[1]! };
    }
  }
  proc.kill();
  throw new Error(`${cmd.join(" ")} did not print a listening url:\n${out}`);
}

/** CPU time (user + system) of a process and its direct children, in ms (clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const one = (p: number) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(f[11]) + Number(f[12])) * 10;
    } catch {
      return 0;
    }
  };
  let kids: number[] = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {}
  return one(pid) + kids.reduce((a, k) => a + one(k), 0);
}

/** A process and all its descendants (sshd forks per connection, nginx and HAProxy have workers). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i]!;
    try {
      for (const t of readdirSync(`/proc/${p}/task`)) {
        const kids = readFileSync(`/proc/${p}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
        out.push(...kids);
      }
    } catch {}
  }
  return out;
}

/** CPU time (user + system) of a process tree, in ms. */
export function treeCpuMs(pid: number): number {
  return processTree(pid).reduce((a, p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return a + (Number(f[11]) + Number(f[12])) * 10;
    } catch {
      return a;
    }
  }, 0);
}

/** Resident memory of a process tree in MiB: RSS, peak RSS (VmHWM) and PSS (shared pages split among their users). */
export function treeMem(pid: number): { rss: number; peak: number; pss: number } {
  let rss = 0;
  let peak = 0;
  let pss = 0;
  for (const p of processTree(pid)) {
    try {
      const s = readFileSync(`/proc/${p}/status`, "utf8");
      const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? 0);
      rss += kb("VmRSS");
      peak += kb("VmHWM");
      pss += Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, "utf8"))?.[1] ?? 0);
    } catch {}
  }
  return { rss: rss / 1024, peak: peak / 1024, pss: pss / 1024 };
}

/** Pins a process and all its threads (and its current children) to one CPU, so the subject runs alone there. */
export function pin(pid: number, cpu: number): void {
  for (const p of processTree(pid)) Bun.spawnSync(["taskset", "-a", "-cp", String(cpu), String(p)], { stdout: "ignore", stderr: "ignore" });
}
