// The dashboard's files as served: the page bundle baked in at build time (macro) and the HTML shell filled per session.
import { bundleDashboard } from "./build.ts" with { type: "macro" };
import { renderSvg } from "../desktop/icons/index.ts";

const bundle = bundleDashboard();

export const DASHBOARD_JS: string = bundle.js;
export const DASHBOARD_CSS: string = bundle.css;
export const ASSET_VERSION: string = bundle.version;
export const ICON_SVG: string = renderSvg();

function escapeAttr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The shell with the asset version filled in once; only the CSRF token differs between page loads. */
const INDEX = bundle.html.replaceAll("{{VERSION}}", ASSET_VERSION);

/** The page with this session's CSRF token in a meta tag (the page's script sends it back in a header). */
export function renderIndex(csrf: string): string {
  return INDEX.replace("{{CSRF}}", escapeAttr(csrf));
}
