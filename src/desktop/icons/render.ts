// Renders the icon shapes as SVG text, as ARGB32 pixels (SNI IconPixmap) and as RGBA for PNG, anti-aliased by distance.
import { rgbaToArgb } from "./pixel-order.ts";
import { shapes, VIEWBOX, type Shape, type TrayState } from "./shapes.ts";

export function renderSvg(state?: TrayState): string {
  const body = shapes(state)
    .map((s) => {
      switch (s.kind) {
        case "circle":
          return `<circle cx="${s.cx}" cy="${s.cy}" r="${s.r}" fill="${s.fill}"/>`;
        case "rect":
          return `<rect x="${s.x}" y="${s.y}" width="${s.w}" height="${s.h}" rx="${s.r}" fill="${s.fill}"/>`;
        case "line":
          return `<line x1="${s.x1}" y1="${s.y1}" x2="${s.x2}" y2="${s.y2}" stroke="${s.fill}" stroke-width="${s.width}" stroke-linecap="round"/>`;
      }
    })
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${VIEWBOX}" height="${VIEWBOX}" viewBox="0 0 ${VIEWBOX} ${VIEWBOX}">${body}</svg>\n`;
}

// Signed distance from (x, y) to the shape's edge: negative inside.
function distance(s: Shape, x: number, y: number): number {
  switch (s.kind) {
    case "circle":
      return Math.hypot(x - s.cx, y - s.cy) - s.r;
    case "rect": {
      const hx = s.w / 2 - s.r;
      const hy = s.h / 2 - s.r;
      const dx = Math.abs(x - (s.x + s.w / 2)) - hx;
      const dy = Math.abs(y - (s.y + s.h / 2)) - hy;
      return Math.hypot(Math.max(dx, 0), Math.max(dy, 0)) + Math.min(Math.max(dx, dy), 0) - s.r;
    }
    case "line": {
      const vx = s.x2 - s.x1;
      const vy = s.y2 - s.y1;
      const len2 = vx * vx + vy * vy;
      const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((x - s.x1) * vx + (y - s.y1) * vy) / len2));
      return Math.hypot(x - (s.x1 + t * vx), y - (s.y1 + t * vy)) - s.width / 2;
    }
  }
}

function hex(c: string): [number, number, number] {
  const n = parseInt(c.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Straight (not premultiplied) RGBA, row-major, `size`×`size`. */
export function renderRgba(state: TrayState | undefined, size: number): Uint8Array {
  if (!Number.isInteger(size) || size < 1 || size > 1024) throw new RangeError(`icon size must be an integer from 1 to 1024, not ${size}`);
  const list = shapes(state).map((s) => ({ s, rgb: hex(s.fill) }));
  const scale = VIEWBOX / size;
  const out = new Uint8Array(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      const x = (px + 0.5) * scale;
      const y = (py + 0.5) * scale;
      // "over" compositing in floating point, straight alpha
      let r = 0, g = 0, b = 0, a = 0;
      for (const { s, rgb } of list) {
        const cov = Math.max(0, Math.min(1, 0.5 - distance(s, x, y) / scale));
        if (cov === 0) continue;
        const na = cov + a * (1 - cov);
        r = (rgb[0] * cov + r * a * (1 - cov)) / na;
        g = (rgb[1] * cov + g * a * (1 - cov)) / na;
        b = (rgb[2] * cov + b * a * (1 - cov)) / na;
        a = na;
      }
      const i = (py * size + px) * 4;
      out[i] = Math.round(r);
      out[i + 1] = Math.round(g);
      out[i + 2] = Math.round(b);
      out[i + 3] = Math.round(a * 255);
    }
  }
  return out;
}

/** ARGB32 in network byte order (A, R, G, B per pixel), as StatusNotifierItem's IconPixmap wants it. */
export function renderArgb(state: TrayState | undefined, size: number): Uint8Array {
  const rgba = renderRgba(state, size);
  return rgbaToArgb(rgba);
}
