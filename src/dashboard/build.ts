// Bundles the dashboard page (TS → one JS file, CSS minified) when the importing module is transpiled; used as a Bun macro,
// so the compiled binary carries the finished page and never needs the sources or a bundler at run time.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bunBuild } from "../core/browser-bundle.ts";

export interface DashboardBundle {
  html: string;
  js: string;
  css: string;
  version: string;
}

export function bundleDashboard(): DashboardBundle {
  const dir = join(import.meta.dir, "../dashboard-page");
  const js = bunBuild(join(dir, "main.ts"), ["--format=esm"]);
  const css = bunBuild(join(dir, "style.css"));
  // The HTML shell is small: only its comments go, the markup stays readable in view-source.
  const html = readFileSync(join(dir, "index.html"), "utf8").replace(/<!--[\s\S]*?-->\n?/g, "");
  const version = Bun.hash(js + css + html).toString(36);
  return { html, js, css, version };
}
