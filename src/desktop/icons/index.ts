// The icon module's public face: names, SVG, ARGB32 pixmaps and PNG files of the app icon and the tray states.
export { APP_ICON, TRAY_STATES, iconName, shapes, type TrayState } from "./shapes.ts";
export { renderSvg, renderArgb, renderRgba } from "./render.ts";
export { encodePng, pngFromRgba, crc32 } from "./png.ts";

/** Sizes written to the hicolor theme and offered as SNI pixmaps. */
export const ICON_SIZES = [16, 22, 24, 32, 48, 64, 128, 256] as const;
