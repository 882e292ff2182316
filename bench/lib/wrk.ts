// Runs wrk (Debian's) with a Lua script for a POST body and reads throughput and latency percentiles from its report.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface WrkResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function ms(v: string, unit: string): number {
  return Number(v) * (unit === "us" ? 0.001 : unit === "s" ? 1000 : unit === "m" ? 60_000 : 1);
}

export function parseWrk(out: string): WrkResult {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(out);
    if (!m) throw new Error(`wrk printed no ${p}% latency:\n${out}`);
    return ms(m[1]!, m[2]!);
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`wrk printed no Requests/sec:\n${out}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = (non2xx ? Number(non2xx[1]) : 0) + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  const total = /(\d+) requests in/.exec(out);
  return { requests: total ? Number(total[1]) : 0, rps: Number(rps[1]), p50Ms: pct("50"), p99Ms: pct("99"), errors };
}

export async function wrk(url: string, body: string, opts: { connections: number; durationSec: number; headers?: Record<string, string>; cpu?: number }): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-wrk-"));
  try {
    const script = join(dir, "post.lua");
    const extra = Object.entries(opts.headers ?? {}).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}\n`).join("");
    writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n${extra}`);
    const p = Bun.spawn([...(opts.cpu !== undefined ? ["taskset", "-c", String(opts.cpu)] : []), "wrk", "-t1", `-c${opts.connections}`, `-d${opts.durationSec}s`, "--latency", "-s", script, url], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    const err = await new Response(p.stderr).text();
    if ((await p.exited) !== 0) throw new Error(`wrk failed: ${err || out}`);
    return parseWrk(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
