// Runs bench/lib/open-loop.ts (fixed-rate GETs in a process of its own) and returns what it reports.
import { join, resolve } from "node:path";

const SCRIPT = join(resolve(import.meta.dir), "open-loop.ts");

export interface FixedRateResult {
  latenciesMs: number[];
  errors: number;
  sent: number;
  achievedRate: number;
}

/** `rate` GETs a second to `url` for `seconds` (after `warmup` s); `cpu` pins the load generator there. */
export async function fixedRate(url: string, o: { rate: number; seconds: number; warmup?: number; cpu?: number; headers?: string[] }): Promise<FixedRateResult> {
  const p = Bun.spawn(
    [
      ...(o.cpu !== undefined ? ["taskset", "-c", String(o.cpu)] : []),
      process.execPath,
      SCRIPT,
      "--url",
      url,
      "--rate",
      String(o.rate),
      "--seconds",
      String(o.seconds),
      ...(o.warmup !== undefined ? ["--warmup", String(o.warmup)] : []),
      ...(o.headers ?? []).flatMap((h) => ["--header", h]),
    ],
    { stdout: "pipe", stderr: "inherit" },
  );
  const out = await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error(`open-loop failed for ${url}`);
  return JSON.parse(out.trim().split("\n").at(-1)!) as FixedRateResult;
}

/** The latencies of a fixed-rate run that must have no errors. */
export async function fixedRateLatencies(url: string, o: Parameters<typeof fixedRate>[1]): Promise<number[]> {
  const r = await fixedRate(url, o);
  if (r.errors) throw new Error(`${url}: open loop saw ${r.errors} errors`);
  return r.latenciesMs;
}
