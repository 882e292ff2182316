// Writes the icons as a hicolor theme tree (for packages and for the tray's private IconThemePath) and finds installed ones.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { encodePng } from "./png.ts";
import { storedPng } from "./stored.ts";
import { renderSvg } from "./render.ts";
import { TRAY_STATES, iconName, type TrayState } from "./shapes.ts";
import { ICON_SIZES } from "./index.ts";
import { appStateDir, runtimeDir } from "../../config/paths.ts";
import { atomicWrite } from "../../config/atomic-write.ts";

/**
 * Writes `<root>/hicolor/<n>x<n>/apps/<name>.png`, `<root>/hicolor/scalable/apps/<name>.svg` and, for hosts that look
 * straight into an IconThemePath, `<root>/<name>.png`. Returns the files written.
 */
export function writeIconTheme(root: string, sizes: readonly number[] = ICON_SIZES): string[] {
  const files: string[] = [];
  const put = (file: string, data: string | Uint8Array) => {
    mkdirSync(join(file, ".."), { recursive: true });
    // Whole or not at all: a full disk cut the last file short, and ensurePrivateIconTheme took it for a finished theme.
    atomicWrite(file, data, 0o644);
    files.push(file);
  };
  const all: (TrayState | undefined)[] = [undefined, ...TRAY_STATES];
  // The prerendered sizes are copied, the others (128, 256: packages and `install`) rendered.
  const png = (state: TrayState | undefined, size: number) => storedPng(state, size) ?? encodePng(state, size);
  for (const state of all) {
    const name = iconName(state);
    for (const size of sizes) put(join(root, "hicolor", `${size}x${size}`, "apps", `${name}.png`), png(state, size));
    put(join(root, "hicolor", "scalable", "apps", `${name}.svg`), renderSvg(state));
    put(join(root, `${name}.png`), png(state, 64));
  }
  return files;
}

/** Where the program keeps its own copy of the icons when they are not installed: $XDG_RUNTIME_DIR/cloudtolocalllm/icons. */
export function privateIconRoot(): string {
  const rt = runtimeDir();
  return join(rt ? join(rt, "cloudtolocalllm") : appStateDir(), "icons");
}

/** The sizes of the private theme (a tray's and a notification's). */
export const PRIVATE_SIZES: readonly number[] = [16, 22, 24, 32, 48];

/** Writes the private icon theme once (small sizes only) and returns its root. */
export function ensurePrivateIconTheme(root: string = privateIconRoot()): string {
  // Looked for by the file written last: a first run cut short (killed, a full disk) is completed by the next, not
  // taken for done because the app's own icon is there.
  if (!existsSync(join(root, `${iconName(TRAY_STATES.at(-1))}.png`))) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    writeIconTheme(root, PRIVATE_SIZES);
  }
  return root;
}
