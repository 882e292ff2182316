// The Gateway tab's usage charts: requests (or tokens) per day over the last 7 days, one chart by key and one by model.
import type { UsageRow } from "../core/contracts.ts";
import { BarChart } from "./bar-chart.ts";
import { $ } from "./dom.ts";
import { lastDays, MEASURES, usageSeries, type UsageMeasure } from "./usage-series.ts";

/** Days shown: today and the six before it (UTC, as the usage ledger counts them). */
export const USAGE_DAYS = 7;

export class UsageCharts {
  private readonly byKey = new BarChart("Usage by key", "requests");
  private readonly byModel = new BarChart("Usage by model", "requests");
  private rows: UsageRow[] = [];
  private readonly measure = $<HTMLSelectElement>("#usage-measure");

  constructor() {
    $("#usage-by-key").append(this.byKey.el);
    $("#usage-by-model").append(this.byModel.el);
    this.measure.addEventListener("change", () => this.draw());
  }

  show(rows: UsageRow[]): void {
    this.rows = rows;
    this.draw();
  }

  private draw(): void {
    const measure = (this.measure.value in MEASURES ? this.measure.value : "requests") as UsageMeasure;
    const days = lastDays(Date.now(), USAGE_DAYS);
    const unit = MEASURES[measure].unit;
    this.byKey.setUnit(unit);
    this.byModel.setUnit(unit);
    this.byKey.update(days, usageSeries(this.rows, "key", measure, days));
    this.byModel.update(days, usageSeries(this.rows, "model", measure, days));
  }
}
