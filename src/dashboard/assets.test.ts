// The dashboard bundle: under 300 KB gzip in total, nothing referenced from another host, the CSRF token escaped into the shell.
import { describe, expect, test } from "bun:test";
import { ASSET_VERSION, DASHBOARD_CSS, DASHBOARD_JS, ICON_SVG, renderIndex } from "./assets.ts";

describe("dashboard assets", () => {
  test("the whole page (HTML + JS + CSS + icon) is under 300 KB compressed", () => {
    const parts = [renderIndex("x".repeat(32)), DASHBOARD_JS, DASHBOARD_CSS, ICON_SVG];
    const gz = parts.reduce((n, p) => n + Bun.gzipSync(p).length, 0);
    expect(DASHBOARD_JS.length).toBeGreaterThan(5_000); // the real bundle, not an empty file
    expect(gz).toBeLessThan(300 * 1024);
  });

  test("the shell loads only same-origin files", () => {
    const html = renderIndex("t");
    const refs = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(3);
    for (const r of refs) expect(r).toMatch(/^(#|\/(?!\/))/);
    expect(DASHBOARD_CSS).not.toMatch(/@import|url\(\s*['"]?(https?:)?\/\//i);
    // The bundle names the SVG namespace and a loopback default for a new upstream, but no other host.
    const urls = [...DASHBOARD_JS.matchAll(/["'`](?:https?:|wss?:)?\/\/([^"'`/:]*)/g)]
      .map((m) => m[1]!)
      .filter((host) => host !== "www.w3.org" && host !== "127.0.0.1");
    expect(urls).toEqual([]);
  });

  test("the CSRF token is escaped into the meta tag and the asset version into the links", () => {
    const html = renderIndex('a"b<c');
    expect(html).toContain('<meta name="csrf-token" content="a&quot;b&lt;c">');
    expect(html).toContain(`/dashboard/app.js?v=${ASSET_VERSION}`);
    expect(html).not.toContain("{{");
  });
});
