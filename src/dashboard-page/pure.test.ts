// Unit tests for the page's pure helpers: number/time formatting, chart axis rounding, field paths.
import { describe, expect, test } from "bun:test";
import * as fmt from "./format.ts";
import { fmtAxis, niceMax } from "./chart.ts";
import { getPath, setPath } from "./paths.ts";

describe("format", () => {
  test("milliseconds", () => {
    expect(fmt.ms(null)).toBe("—");
    expect(fmt.ms(2.345)).toBe("2.3 ms");
    expect(fmt.ms(42.4)).toBe("42 ms");
    expect(fmt.ms(250.6)).toBe("251 ms");
    expect(fmt.ms(12_345)).toBe("12.3 s");
  });
  test("rates, percentages, bytes", () => {
    expect(fmt.rate(null, "")).toBe("—");
    expect(fmt.rate(3.14, "/s")).toBe("3.1/s");
    expect(fmt.rate(1234.5, "")).toBe("1235");
    expect(fmt.pct(0)).toBe("0.0 %");
    expect(fmt.pct(0.004)).toBe("0.40 %");
    expect(fmt.pct(0.125)).toBe("12.5 %");
    expect(fmt.bytes(900)).toBe("900 B");
    expect(fmt.bytes(1536)).toBe("1.5 KB");
    expect(fmt.bytes(5 * 1024 * 1024)).toBe("5.0 MB");
  });
  test("relative times and durations", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(fmt.relative("2026-01-01T00:00:00Z", now)).toBe("just now");
    expect(fmt.relative("2026-01-01T00:00:12Z", now)).toBe("in 12 s");
    expect(fmt.relative("2025-12-31T23:57:00Z", now)).toBe("3 min ago");
    expect(fmt.relative(null, now)).toBe("—");
    expect(fmt.duration(59)).toBe("59 s");
    expect(fmt.duration(3 * 3600 + 5 * 60)).toBe("3 h 5 min");
    expect(fmt.duration(2 * 86400 + 3600)).toBe("2 d 1 h");
  });
});

test("chart axis maxima round up to 1, 2 or 5 × 10^n", () => {
  expect(niceMax(0)).toBe(1);
  expect(niceMax(0.3)).toBe(0.5);
  expect(niceMax(7)).toBe(10);
  expect(niceMax(120)).toBe(200);
  expect(niceMax(2000)).toBe(2000);
  expect(niceMax(4100)).toBe(5000);
  // Axis labels: whole steps stay whole, halves of small scales keep their digits.
  expect([0, 5, 0.25, 2.5, 250, 1000, 2500, 20_000].map(fmtAxis)).toEqual(["0", "5", "0.25", "2.5", "250", "1k", "2.5k", "20k"]);
});

test("field paths read and write nested config values", () => {
  const cfg: Record<string, unknown> = { health: { interval: "10s" }, upstreams: [{ name: "a", url: "x" }] };
  expect(getPath(cfg, "upstreams[0].url")).toBe("x");
  expect(getPath(cfg, "upstreams[3].url")).toBeUndefined();
  setPath(cfg, "health.interval", "1s");
  setPath(cfg, "upstreams[1].name", "b");
  setPath(cfg, "dashboard.body_cap", 16);
  expect(cfg).toEqual({ health: { interval: "1s" }, upstreams: [{ name: "a", url: "x" }, { name: "b" }], dashboard: { body_cap: 16 } });
});
