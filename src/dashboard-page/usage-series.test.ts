// The usage charts' data: rows summed per day and key or model, the tail folded into "other", days named as the ledger does.
import { expect, test } from "bun:test";
import type { UsageRow } from "../core/contracts.ts";
import { dayLabel } from "./bar-chart.ts";
import { lastDays, usageSeries } from "./usage-series.ts";

const row = (day: string, key: string, model: string, requests: number, tokens = 0): UsageRow => ({
  day, key, model, caller: "local", requests, errors: 0, prompt_tokens: tokens, completion_tokens: tokens, queue_ms: 0,
});

test("the last days are UTC dates, oldest first, ending today", () => {
  expect(lastDays(Date.parse("2026-12-06T23:30:00Z"), 3)).toEqual(["2026-12-04", "2026-12-05", "2026-12-06"]);
  expect(dayLabel("2026-12-06")).toBe("Sun 6");
});

test("sums requests or tokens per day by key or by model, largest first; other days and empty series are left out", () => {
  const days = ["2026-12-05", "2026-12-06"];
  const rows = [
    row("2026-12-05", "alice", "llama3", 2, 10),
    row("2026-12-06", "alice", "qwen", 3, 1),
    row("2026-12-06", "alice", "qwen", 1, 1), // another caller class, same day, key and model
    row("2026-12-06", "-", "llama3", 7, 0),
    row("2026-11-01", "bob", "llama3", 100, 100),
    row("2026-12-06", "zero", "llama3", 0, 0),
  ];
  expect(usageSeries(rows, "key", "requests", days)).toEqual([
    { name: "no key", values: [0, 7] },
    { name: "alice", values: [2, 4] },
  ]);
  expect(usageSeries(rows, "model", "requests", days)).toEqual([
    { name: "llama3", values: [2, 7] },
    { name: "qwen", values: [0, 4] },
  ]);
  expect(usageSeries(rows, "model", "tokens", days)).toEqual([
    { name: "llama3", values: [20, 0] },
    { name: "qwen", values: [0, 4] },
  ]);
});

test("beyond the palette, the smallest series are summed as other", () => {
  const days = ["2026-12-06"];
  const rows = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => row("2026-12-06", `k${n}`, "m", n));
  const s = usageSeries(rows, "key", "requests", days, 4);
  expect(s.map((x) => x.name)).toEqual(["k8", "k7", "k6", "other"]);
  expect(s.at(-1)!.values).toEqual([1 + 2 + 3 + 4 + 5]);
});
