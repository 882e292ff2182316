// A stacked bar chart drawn as SVG by the page (no library): one bar per day, one segment per series, labelled axes and a legend.
import { fmtAxis, niceMax } from "./chart.ts";
import { h, s, setText } from "./dom.ts";
import type { BarSeries } from "./usage-series.ts";

const W = 420;
const H = 196;
const PAD = { l: 46, r: 8, t: 24, b: 22 };
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
/** Colours in the order series are drawn (style.css defines --s0 … --s5 for light and dark). */
export const PALETTE_SIZE = 6;

/** "2026-12-06" → "Sun 6": short enough for seven labels under the bars. */
export function dayLabel(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? day : `${WEEKDAYS[d.getUTCDay()]} ${d.getUTCDate()}`;
}

export class BarChart {
  readonly el: HTMLElement;
  private readonly svg: SVGSVGElement;
  private readonly legend: HTMLUListElement;

  constructor(
    private readonly name: string,
    private unit: string,
  ) {
    this.svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart bars", role: "img" });
    this.legend = h("ul", { class: "chart-legend" });
    this.el = h("div", { class: "bar-chart" }, this.svg, this.legend);
  }

  setUnit(unit: string): void {
    this.unit = unit;
  }

  /** Redraws from scratch: a handful of rects, only when the usage is loaded or the measure changes. */
  update(days: string[], series: BarSeries[]): void {
    const totals = days.map((_, i) => series.reduce((a, x) => a + (x.values[i] ?? 0), 0));
    const top = niceMax(Math.max(0, ...totals));
    const plotH = H - PAD.t - PAD.b;
    const y = (v: number) => H - PAD.b - (v / top) * plotH;
    const slot = (W - PAD.l - PAD.r) / Math.max(1, days.length);
    const barW = Math.max(4, slot * 0.62);
    const kids: SVGElement[] = [s("title", {}, this.summary(days, totals))];
    // The y axis: 0, half and the top, with the unit on the top label; gridlines behind the bars.
    for (const v of [0, top / 2, top]) {
      kids.push(s("line", { x1: PAD.l, y1: y(v), x2: W - PAD.r, y2: y(v), class: v === 0 ? "grid" : "grid faint" }));
      kids.push(s("text", { x: PAD.l - 4, y: y(v) + 3, "text-anchor": "end", class: "axis", "data-axis": "y" }, fmtAxis(v)));
    }
    kids.push(s("text", { x: 2, y: 12, class: "axis axis-title", "data-axis": "y-unit" }, this.unit));
    days.forEach((day, i) => {
      const x = PAD.l + i * slot + (slot - barW) / 2;
      kids.push(s("text", { x: x + barW / 2, y: H - PAD.b + 15, "text-anchor": "middle", class: "axis", "data-axis": "x" }, dayLabel(day)));
      let base = 0;
      series.forEach((ser, k) => {
        const v = ser.values[i] ?? 0;
        if (v <= 0) return;
        const y1 = y(base + v);
        kids.push(
          s(
            "rect",
            { x: x.toFixed(1), y: y1.toFixed(1), width: barW.toFixed(1), height: Math.max(0.5, y(base) - y1).toFixed(1), class: `bar s${k % PALETTE_SIZE}`, "data-series": ser.name, "data-day": day, "data-value": v },
            s("title", {}, `${ser.name}, ${day}: ${v.toLocaleString("en-US")} ${this.unit}`),
          ),
        );
        base += v;
      });
    });
    this.svg.replaceChildren(...kids);
    this.svg.setAttribute("aria-label", this.summary(days, totals));
    this.legend.replaceChildren(
      ...series.map((ser, k) =>
        h("li", { class: `swatch s${k % PALETTE_SIZE}`, "data-series": ser.name }, `${ser.name} (${ser.values.reduce((a, b) => a + b, 0).toLocaleString("en-US")})`),
      ),
    );
    if (!series.length) this.legend.append(h("li", { class: "muted" }, "No usage in these days."));
  }

  private summary(days: string[], totals: number[]): string {
    const sum = totals.reduce((a, b) => a + b, 0);
    return `${this.name}: ${sum.toLocaleString("en-US")} ${this.unit} from ${days[0] ?? ""} to ${days.at(-1) ?? ""}`;
  }
}
