// Bundles the relay's chat page (TS → one JS file, CSS minified) when the importing module is transpiled (a Bun macro).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bunBuild } from "../core/browser-bundle.ts";

export interface ChatBundle {
  html: string;
  js: string;
  css: string;
  version: string;
}

export function bundleChatPage(): ChatBundle {
  const dir = join(import.meta.dir, "chat-page");
  const js = bunBuild(join(dir, "main.ts"), ["--format=esm"]);
  const css = bunBuild(join(dir, "style.css"));
  const html = readFileSync(join(dir, "index.html"), "utf8").replace(/<!--[\s\S]*?-->\n?/g, "");
  return { html, js, css, version: Bun.hash(js + css + html).toString(36) };
}
