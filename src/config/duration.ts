// Parses the duration strings of the config ("250ms", "30s", "5m", "1h") into milliseconds.
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const RE = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/;

export function durationMs(d: string): number {
  const m = RE.exec(d);
  if (!m) throw new Error(`not a duration: "${d}" (use e.g. 250ms, 30s, 5m, 1h)`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
}

export function isDuration(d: string): boolean {
  return RE.test(d);
}
