// A tiny live line chart drawn as SVG by the page (no library): a 15-minute time axis with clock ticks, an auto-scaled y axis
// labelled with its unit, and a title for screen readers.
import { s, setText } from "./dom.ts";
import { WINDOW_MS } from "../dashboard/metrics-history.ts";

export interface Line {
  label: string;
  cls: string;
  values: { t: number; v: number | null }[];
}

const W = 320;
const H = 130;
const PAD = { l: 44, r: 10, t: 14, b: 20 };
/** Time ticks fall on whole 5 minutes of the clock, so the labels read like a clock and do not change every second. */
const TICK_MS = 5 * 60_000;
const TICKS = Math.ceil(WINDOW_MS / TICK_MS) + 1;

/** Rounds up to 1, 2 or 5 × 10^n so the axis label is readable. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

export function fmtAxis(v: number): string {
  if (v >= 10_000) return `${Math.round(v / 1000)}k`;
  if (v >= 1000) return Number.isInteger(v / 1000) ? `${v / 1000}k` : `${(v / 1000).toFixed(1)}k`;
  // Whole numbers stay whole ("5", not "5.0"): the scale's steps are 1, 2 or 5 × 10^n.
  if (Number.isInteger(v)) return String(v);
  return v >= 10 ? String(Math.round(v)) : v >= 1 ? v.toFixed(1) : String(Number(v.toPrecision(2)));
}

/** "14:05" in the viewer's time zone. */
function clockLabel(t: number): string {
  return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}

export class LineChart {
  readonly el: SVGSVGElement;
  private readonly title: SVGTitleElement;
  private readonly paths: SVGPathElement[];
  private readonly maxLabel: SVGTextElement;
  private readonly midLabel: SVGTextElement;
  private readonly ticks: { line: SVGLineElement; label: SVGTextElement }[];

  constructor(
    private readonly name: string,
    private readonly unit: string,
    classes: string[],
  ) {
    this.title = s("title");
    const x0 = PAD.l;
    const y0 = H - PAD.b;
    const yMid = (PAD.t + y0) / 2;
    this.maxLabel = s("text", { x: PAD.l - 4, y: PAD.t + 3, "text-anchor": "end", class: "axis", "data-axis": "y" }, "1");
    this.midLabel = s("text", { x: PAD.l - 4, y: yMid + 3, "text-anchor": "end", class: "axis", "data-axis": "y" }, "0.5");
    this.paths = classes.map((c) => s("path", { class: `line ${c}`, fill: "none", d: "" }));
    this.ticks = Array.from({ length: TICKS }, () => ({
      line: s("line", { x1: 0, y1: PAD.t, x2: 0, y2: y0 + 3, class: "grid faint tick", visibility: "hidden" }),
      label: s("text", { x: 0, y: H - 5, "text-anchor": "middle", class: "axis", "data-axis": "x", visibility: "hidden" }),
    }));
    this.el = s(
      "svg",
      { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" },
      this.title,
      s("line", { x1: x0, y1: y0, x2: W - PAD.r, y2: y0, class: "grid" }),
      s("line", { x1: x0, y1: yMid, x2: W - PAD.r, y2: yMid, class: "grid faint" }),
      s("line", { x1: x0, y1: PAD.t, x2: W - PAD.r, y2: PAD.t, class: "grid faint" }),
      s("line", { x1: x0, y1: PAD.t, x2: x0, y2: y0, class: "grid" }),
      s("text", { x: PAD.l - 4, y: y0 + 3, "text-anchor": "end", class: "axis", "data-axis": "y" }, "0"),
      this.midLabel,
      this.maxLabel,
      // The unit once, above the y labels, so every number on the axis reads with it.
      s("text", { x: 2, y: PAD.t - 5, class: "axis axis-title", "data-axis": "y-unit" }, unit),
      ...this.ticks.flatMap((t) => [t.line, t.label]),
      ...this.paths,
    );
  }

  /** Moves the clock ticks: every whole 5 minutes inside the window, labelled HH:MM. */
  private placeTicks(now: number, x: (t: number) => number): void {
    const first = Math.ceil((now - WINDOW_MS) / TICK_MS) * TICK_MS;
    this.ticks.forEach((tick, i) => {
      const t = first + i * TICK_MS;
      const shown = t <= now;
      const vis = shown ? "visible" : "hidden";
      tick.line.setAttribute("visibility", vis);
      tick.label.setAttribute("visibility", vis);
      if (!shown) return;
      const px = x(t).toFixed(1);
      tick.line.setAttribute("x1", px);
      tick.line.setAttribute("x2", px);
      // Labels near an edge are anchored inward so they are never cut off.
      const anchor = x(t) < PAD.l + 14 ? "start" : x(t) > W - PAD.r - 14 ? "end" : "middle";
      tick.label.setAttribute("x", px);
      tick.label.setAttribute("text-anchor", anchor);
      tick.label.dataset.t = String(t);
      setText(tick.label, clockLabel(t));
    });
  }

  update(lines: Line[], now: number): void {
    let max = 0;
    for (const l of lines) for (const p of l.values) if (p.v !== null && p.v > max) max = p.v;
    const top = niceMax(max);
    setText(this.maxLabel, fmtAxis(top));
    setText(this.midLabel, fmtAxis(top / 2));
    const x = (t: number) => PAD.l + ((t - (now - WINDOW_MS)) / WINDOW_MS) * (W - PAD.l - PAD.r);
    this.placeTicks(now, x);
    const y = (v: number) => H - PAD.b - (v / top) * (H - PAD.t - PAD.b);
    lines.forEach((l, i) => {
      let d = "";
      let pen = false;
      for (const p of l.values) {
        if (p.v === null || p.t < now - WINDOW_MS) {
          pen = false;
          continue;
        }
        // A lone point gets a zero-length segment: with round caps it shows as a dot.
        d += pen ? `L${x(p.t).toFixed(1)} ${y(p.v).toFixed(1)}` : `M${x(p.t).toFixed(1)} ${y(p.v).toFixed(1)}h0`;
        pen = true;
      }
      this.paths[i]?.setAttribute("d", d);
    });
    const latest = lines
      .map((l) => {
        const last = [...l.values].reverse().find((p) => p.v !== null);
        return `${l.label} ${last ? `${fmtAxis(last.v!)} ${this.unit}` : "no data"}`;
      })
      .join(", ");
    setText(this.title, `${this.name} (${this.unit}), last 15 minutes to ${clockLabel(now)}; latest: ${latest}`);
    this.el.setAttribute("aria-label", this.title.textContent ?? this.name);
  }
}
