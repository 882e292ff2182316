// The small icons the tray needs at start, from prerendered.ts (PNG files as they are; SNI pixmaps decoded from them).
import { rgbaToArgb } from "./pixel-order.ts";
import { PRERENDERED_PNG } from "./prerendered.ts";
import { iconName, type TrayState } from "./shapes.ts";

/** The sizes kept prerendered: the tray's pixmaps and private theme (16–48) and the top-level theme file (64). */
export const PRERENDERED_SIZES = [16, 22, 24, 32, 48, 64] as const;

/** The PNG file of `state` at `size`, or null when that size is not kept (the caller renders it). */
export function storedPng(state: TrayState | undefined, size: number): Uint8Array<ArrayBuffer> | null {
  const b64 = PRERENDERED_PNG[`${iconName(state)}@${size}`];
  // fromBase64, not Buffer.from(…, "base64") or Uint8Array.from(…): measured in a compiled binary, those two cost an
  // idle process 2 and 11 MiB of code and JIT pages; fromBase64 costs next to nothing.
  return b64 ? (Uint8Array as unknown as { fromBase64(s: string): Uint8Array<ArrayBuffer> }).fromBase64(b64) : null;
}

/**
 * Straight RGBA pixels of a stored PNG. Only our own PNGs are read here: 8-bit RGBA, one IDAT, filter 0 on every row
 * (png.ts writes exactly that); anything else is refused rather than misread.
 */
export function storedRgba(state: TrayState | undefined, size: number): Uint8Array | null {
  const png = storedPng(state, size);
  if (!png) return null;
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const idatLength = view.getUint32(33);
  if (view.getUint32(16) !== size || png[24] !== 8 || png[25] !== 6 || String.fromCharCode(...png.subarray(37, 41)) !== "IDAT") throw new Error(`stored icon ${iconName(state)}@${size} is not the PNG png.ts writes`);
  // The IDAT holds a zlib stream: its 2-byte header and 4-byte Adler-32 around Bun's raw inflate.
  const rows = Bun.inflateSync(png.subarray(43, 41 + idatLength - 4));
  const stride = size * 4;
  const out = new Uint8Array(size * stride);
  for (let y = 0; y < size; y++) {
    if (rows[y * (stride + 1)] !== 0) throw new Error(`stored icon ${iconName(state)}@${size} uses a PNG filter png.ts does not write`);
    out.set(rows.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
  }
  return out;
}

/** ARGB32 in network byte order (StatusNotifierItem's IconPixmap) from a stored PNG, or null when that size is not kept. */
export function storedArgb(state: TrayState | undefined, size: number): Uint8Array | null {
  const rgba = storedRgba(state, size);
  if (!rgba) return null;
  return rgbaToArgb(rgba);
}
