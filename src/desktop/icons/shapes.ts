// The app and tray-state icons as one list of shapes, so the SVG and the raster renderings can never disagree.
export type TrayState = "good" | "degraded" | "connecting" | "critical" | "offline";
export const TRAY_STATES: readonly TrayState[] = ["good", "degraded", "connecting", "critical", "offline"];

export const APP_ICON = "cloudtolocalllm-tunnel";
export function iconName(state?: TrayState): string {
  return state ? `${APP_ICON}-${state}` : APP_ICON;
}

/** Coordinates are in a 64×64 box. */
export type Shape =
  | { kind: "circle"; cx: number; cy: number; r: number; fill: string }
  | { kind: "rect"; x: number; y: number; w: number; h: number; r: number; fill: string }
  | { kind: "line"; x1: number; y1: number; x2: number; y2: number; width: number; fill: string };

export const VIEWBOX = 64;

const STATE_COLOR: Record<TrayState, string> = {
  good: "#2e9d57",
  degraded: "#e0a100",
  connecting: "#2f7fd8",
  critical: "#d33a2f",
  offline: "#7b8088",
};

const BG = "#1f3b5c";
const GLYPH = "#ffffff";

// A cloud linked by a line to a small machine: "cloud to local".
function glyph(color: string, bg: string): Shape[] {
  return [
    { kind: "rect", x: 2, y: 2, w: 60, h: 60, r: 13, fill: bg },
    // cloud
    { kind: "circle", cx: 24, cy: 22, r: 8, fill: color },
    { kind: "circle", cx: 35, cy: 18, r: 10, fill: color },
    { kind: "circle", cx: 44, cy: 24, r: 7, fill: color },
    { kind: "rect", x: 14, y: 22, w: 38, h: 9, r: 4.5, fill: color },
    // the tunnel
    { kind: "line", x1: 32, y1: 30, x2: 32, y2: 42, width: 4, fill: color },
    // the local machine
    { kind: "rect", x: 18, y: 41, w: 28, h: 14, r: 3, fill: color },
    { kind: "rect", x: 22, y: 45, w: 20, h: 6, r: 1.5, fill: bg },
  ];
}

function badge(state: TrayState): Shape[] {
  const c = STATE_COLOR[state];
  const cx = 49;
  const cy = 49;
  const w = 2.8;
  const out: Shape[] = [
    { kind: "circle", cx, cy, r: 14, fill: "#ffffff" },
    { kind: "circle", cx, cy, r: 12, fill: c },
  ];
  const W = "#ffffff";
  switch (state) {
    case "good": // check mark
      out.push({ kind: "line", x1: 43.5, y1: 49.5, x2: 47.5, y2: 53.5, width: w, fill: W });
      out.push({ kind: "line", x1: 47.5, y1: 53.5, x2: 55, y2: 45, width: w, fill: W });
      break;
    case "degraded": // exclamation mark
      out.push({ kind: "line", x1: cx, y1: 42.5, x2: cx, y2: 50.5, width: w + 0.4, fill: W });
      out.push({ kind: "circle", cx, cy: 55.5, r: 1.9, fill: W });
      break;
    case "connecting": // three dots
      for (const dx of [-6, 0, 6]) out.push({ kind: "circle", cx: cx + dx, cy, r: 2.1, fill: W });
      break;
    case "critical": // cross
      out.push({ kind: "line", x1: 44, y1: 44, x2: 54, y2: 54, width: w, fill: W });
      out.push({ kind: "line", x1: 54, y1: 44, x2: 44, y2: 54, width: w, fill: W });
      break;
    case "offline": // dash
      out.push({ kind: "line", x1: 43.5, y1: cy, x2: 54.5, y2: cy, width: w + 0.4, fill: W });
      break;
  }
  return out;
}

export function shapes(state?: TrayState): Shape[] {
  if (!state) return glyph(GLYPH, BG);
  // Offline: the whole glyph fades to grey so it reads as "not running" even at 16 px.
  if (state === "offline") return [...glyph("#d0d3d8", "#5a5f66"), ...badge(state)];
  return [...glyph(GLYPH, BG), ...badge(state)];
}
