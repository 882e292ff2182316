// Pixel byte order for StatusNotifierItem: RGBA rows (our renderer's and PNG's) to ARGB32 in network byte order.

/** ARGB32 in network byte order (A, R, G, B per pixel), as StatusNotifierItem's IconPixmap wants it, from RGBA. */
export function rgbaToArgb(rgba: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgba.length);
  for (let i = 0; i < rgba.length; i += 4) {
    out[i] = rgba[i + 3]!;
    out[i + 1] = rgba[i]!;
    out[i + 2] = rgba[i + 1]!;
    out[i + 3] = rgba[i + 2]!;
  }
  return out;
}
