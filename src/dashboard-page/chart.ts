// A tiny live line chart drawn as SVG by the page (no library): fixed 15-minute time axis, auto-scaled y, labelled for screen readers.
import { s, setText } from "./dom.ts";
import { WINDOW_MS } from "../dashboard/metrics-history.ts";

export interface Line {
  label: string;
  cls: string;
  values: { t: number; v: number | null }[];
}

const W = 300;
const H = 110;
const PAD = { l: 40, r: 6, t: 8, b: 18 };

/** Rounds up to 1, 2 or 5 × 10^n so the axis label is readable. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmtAxis(v: number): string {
  if (v >= 10_000) return `${Math.round(v / 1000)}k`;
  if (v >= 1000) return `${(v / 1000).toFixed(1)}k`;
  return v >= 10 || v === 0 ? String(Math.round(v)) : v.toFixed(1);
}

export class LineChart {
  readonly el: SVGSVGElement;
  private readonly title: SVGTitleElement;
  private readonly paths: SVGPathElement[];
  private readonly maxLabel: SVGTextElement;

  constructor(
    private readonly name: string,
    private readonly unit: string,
    classes: string[],
  ) {
    this.title = s("title");
    this.maxLabel = s("text", { x: PAD.l - 4, y: PAD.t + 8, "text-anchor": "end", class: "axis" }, "1");
    this.paths = classes.map((c) => s("path", { class: `line ${c}`, fill: "none", d: "" }));
    const x0 = PAD.l;
    const y0 = H - PAD.b;
    this.el = s(
      "svg",
      { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", preserveAspectRatio: "none" },
      this.title,
      s("line", { x1: x0, y1: y0, x2: W - PAD.r, y2: y0, class: "grid" }),
      s("line", { x1: x0, y1: PAD.t, x2: W - PAD.r, y2: PAD.t, class: "grid faint" }),
      s("text", { x: PAD.l - 4, y: y0, "text-anchor": "end", class: "axis" }, "0"),
      this.maxLabel,
      s("text", { x: x0, y: H - 4, class: "axis" }, "−15 min"),
      s("text", { x: W - PAD.r, y: H - 4, "text-anchor": "end", class: "axis" }, "now"),
      ...this.paths,
    );
  }

  update(lines: Line[], now: number): void {
    let max = 0;
    for (const l of lines) for (const p of l.values) if (p.v !== null && p.v > max) max = p.v;
    const top = niceMax(max);
    setText(this.maxLabel, fmtAxis(top));
    const x = (t: number) => PAD.l + ((t - (now - WINDOW_MS)) / WINDOW_MS) * (W - PAD.l - PAD.r);
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
        return `${l.label} ${last ? fmtAxis(last.v!) : "no data"}${last ? " " + this.unit : ""}`;
      })
      .join(", ");
    setText(this.title, `${this.name}, last 15 minutes; latest: ${latest}`);
    this.el.setAttribute("aria-label", this.title.textContent ?? this.name);
  }
}
