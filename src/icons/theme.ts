// Writes the icons as a hicolor theme tree (for packages and for the tray's private IconThemePath) and finds installed ones.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodePng } from "./png.ts";
import { renderSvg } from "./render.ts";
import { TRAY_STATES, iconName, type TrayState } from "./shapes.ts";

export const THEME_SIZES = [16, 22, 24, 32, 48, 64, 128, 256];

/**
 * Writes `<root>/hicolor/<n>x<n>/apps/<name>.png`, `<root>/hicolor/scalable/apps/<name>.svg` and, for hosts that look
 * straight into an IconThemePath, `<root>/<name>.png`. Returns the files written.
 */
export function writeIconTheme(root: string, sizes: readonly number[] = THEME_SIZES): string[] {
  const files: string[] = [];
  const put = (file: string, data: string | Uint8Array) => {
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, data);
    files.push(file);
  };
  const all: (TrayState | undefined)[] = [undefined, ...TRAY_STATES];
  for (const state of all) {
    const name = iconName(state);
    for (const size of sizes) put(join(root, "hicolor", `${size}x${size}`, "apps", `${name}.png`), encodePng(state, size));
    put(join(root, "hicolor", "scalable", "apps", `${name}.svg`), renderSvg(state));
    put(join(root, `${name}.png`), encodePng(state, 64));
  }
  return files;
}

export { iconsInstalled } from "./installed.ts";

