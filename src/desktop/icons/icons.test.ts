// Icon rendering: PNG bytes that a real decoder (ImageMagick) reads back to the same pixels, ARGB order, SVG shape.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { ensurePrivateIconTheme, PRIVATE_SIZES, writeIconTheme } from "./theme.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, encodePng, iconName, renderArgb, renderRgba, renderSvg, TRAY_STATES } from "./index.ts";
import { requireTools } from "../../../tests/helpers/requires.ts";
import { mountNamespace } from "../../../tests/helpers/mount-namespace.ts";

describe("icons", () => {
  test("names follow the shared convention", () => {
    expect(iconName()).toBe("cloudtolocalllm-tunnel");
    expect(TRAY_STATES.map((s) => iconName(s))).toEqual([
      "cloudtolocalllm-tunnel-good",
      "cloudtolocalllm-tunnel-degraded",
      "cloudtolocalllm-tunnel-connecting",
      "cloudtolocalllm-tunnel-critical",
      "cloudtolocalllm-tunnel-offline",
    ]);
  });

  test("crc32 matches the PNG specification's check value", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });

  test("ARGB32 is the RGBA pixels with alpha first (network byte order)", () => {
    const rgba = renderRgba("critical", 22);
    const argb = renderArgb("critical", 22);
    expect(argb.length).toBe(22 * 22 * 4);
    for (let i = 0; i < rgba.length; i += 4) {
      expect([argb[i], argb[i + 1], argb[i + 2], argb[i + 3]]).toEqual([rgba[i + 3], rgba[i], rgba[i + 1], rgba[i + 2]]);
    }
    // corners are transparent (rounded background), the centre is opaque
    expect(argb[0]).toBe(0);
    expect(argb[(11 * 22 + 11) * 4]).toBe(255);
  });

  test("each state has its own look, and the badge colour tells the state", () => {
    const at = (s: (typeof TRAY_STATES)[number]) => {
      const p = renderRgba(s, 64);
      const i = (49 * 64 + 40) * 4; // inside the badge, off its symbol
      return [p[i], p[i + 1], p[i + 2]];
    };
    expect(at("good")).toEqual([0x2e, 0x9d, 0x57]);
    expect(at("critical")).toEqual([0xd3, 0x3a, 0x2f]);
    const all = new Set(TRAY_STATES.map((s) => Buffer.from(renderRgba(s, 32)).toString("base64")));
    all.add(Buffer.from(renderRgba(undefined, 32)).toString("base64"));
    expect(all.size).toBe(TRAY_STATES.length + 1);
  });

  test("SVG is a 64×64 document with the shapes", () => {
    const svg = renderSvg("good");
    expect(svg).toStartWith('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">');
    expect(svg).toContain('fill="#2e9d57"');
    expect(renderSvg()).not.toContain("#2e9d57");
  });

  requireTools(["identify", "convert"]).test("PNG decodes with ImageMagick to exactly the rendered pixels", () => {
    const dir = mkdtempSync(join(tmpdir(), "c2l-icons-"));
    try {
      for (const [state, size] of [["degraded", 48], [undefined, 16]] as const) {
        const file = join(dir, `i${size}.png`);
        writeFileSync(file, encodePng(state, size));
        const id = Bun.spawnSync(["identify", "-format", "%w %h %[channels]", file]);
        expect(id.exitCode).toBe(0);
        expect(id.stdout.toString()).toMatch(new RegExp(`^${size} ${size} s?rgba`));
        const raw = Bun.spawnSync(["convert", file, "-depth", "8", "rgba:-"]);
        expect(raw.exitCode).toBe(0);
        expect(Buffer.from(raw.stdout).equals(Buffer.from(renderRgba(state, size)))).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  test("sizes are checked", () => {
    expect(() => renderArgb("good", 0)).toThrow(/icon size/);
  });
});

test("the README's icons (docs/icons/*.svg) are the rendered ones", async () => {
  const { join } = await import("node:path");
  const { readFileSync } = await import("node:fs");
  const dir = join(import.meta.dir, "../../../docs/icons");
  for (const s of TRAY_STATES) expect(readFileSync(join(dir, `${s}.svg`), "utf8")).toBe(renderSvg(s));
  expect(readFileSync(join(dir, "app.svg"), "utf8")).toBe(renderSvg());
});

test("installed icons are found where install puts them (apps/ for the app, status/ for the states)", async () => {
  const { mkdirSync, writeFileSync, mkdtempSync, rmSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const { iconInstalled, iconsInstalled } = await import("./installed.ts");
  const d = mkdtempSync(join(tmpdir(), "c2l-hicolor-"));
  try {
    const env = { XDG_DATA_HOME: d, XDG_DATA_DIRS: join(d, "none") };
    expect(iconsInstalled(env)).toBe(false);
    mkdirSync(join(d, "icons/hicolor/scalable/status"), { recursive: true });
    writeFileSync(join(d, "icons/hicolor/scalable/status/cloudtolocalllm-tunnel-good.svg"), renderSvg("good"));
    expect(iconsInstalled(env)).toBe(true);
    expect(iconInstalled("cloudtolocalllm-tunnel", env)).toBe(false);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("a PNG's image data is a zlib stream node:zlib inflates back to the filtered rows (header and Adler-32 right)", async () => {
  const { inflateSync } = await import("node:zlib");
  const { pngFromRgba } = await import("./index.ts");
  const rgba = Uint8Array.from({ length: 3 * 2 * 4 }, (_, i) => (i * 37) % 256);
  const png = pngFromRgba(rgba, 3, 2);
  const view = new DataView(png.buffer, png.byteOffset);
  const idatLength = view.getUint32(33);
  expect(new TextDecoder().decode(png.subarray(37, 41))).toBe("IDAT");
  const rows = new Uint8Array(inflateSync(png.subarray(41, 41 + idatLength)));
  expect([...rows]).toEqual([0, ...rgba.subarray(0, 12), 0, ...rgba.subarray(12)]);
});

test("the prerendered icons are what the renderers draw today (after changing a shape: bun scripts/gen-icons.ts)", async () => {
  const { PRERENDERED_SIZES, storedArgb, storedPng, storedRgba } = await import("./stored.ts");
  for (const state of [undefined, ...TRAY_STATES]) {
    for (const size of PRERENDERED_SIZES) {
      expect({ icon: iconName(state), size, same: Buffer.from(storedRgba(state, size)!).equals(Buffer.from(renderRgba(state, size))) }).toEqual({ icon: iconName(state), size, same: true });
      expect(Buffer.from(storedArgb(state, size)!).equals(Buffer.from(renderArgb(state, size)))).toBe(true);
    }
  }
  expect(storedPng("good", 128)).toBeNull();
});

test("the private icon theme cut short on its first run (only the app's icon written) is completed by the next", () => {
  const root = mkdtempSync(join(tmpdir(), "c2l-icons-"));
  try {
    writeFileSync(join(root, `${iconName()}.png`), encodePng(undefined, 64));
    ensurePrivateIconTheme(root);
    // Before: the app's icon was taken as proof that all were there; the states' icons never came.
    for (const s of TRAY_STATES) expect(existsSync(join(root, `${iconName(s)}.png`))).toBe(true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

requireTools(["unshare", "mount", mountNamespace]).test("the private icon theme cut short by a full disk at its last file is completed once there is room, not taken for done with that file empty", () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-icons-full-"));
  try {
    // The theme's files in the order they are written: a disk with room for all but the last one's first page.
    const files = writeIconTheme(join(dir, "reference"), PRIVATE_SIZES).map((f) => f.slice(join(dir, "reference").length + 1));
    const pages = files.slice(0, -1).reduce((n, f) => n + Math.ceil(statSync(join(dir, "reference", f)).size / 4096), 0);
    const root = join(dir, "root");
    mkdirSync(root);
    const script = join(dir, "ensure.ts");
    writeFileSync(script, `import { ensurePrivateIconTheme } from ${JSON.stringify(join(import.meta.dir, "theme.ts"))};\ntry { ensurePrivateIconTheme(process.argv[2]!); console.log("written"); } catch (e) { console.log((e as { code?: string }).code ?? String(e)); }\n`);
    const run = `"${process.execPath}" '${script}' '${root}'`;
    const r = Bun.spawnSync(["unshare", "-rm", "sh", "-c", `mount -t tmpfs -o size=${pages * 4}k c2l-icons '${root}' || exit 97\n${run}\nmount -o remount,size=1m '${root}' || exit 97\n${run}\ncp -a '${root}'/. '${join(dir, "after")}'/`], { stdout: "pipe", stderr: "pipe" });
    expect({ exit: r.exitCode, stderr: r.stderr.toString() }).toEqual({ exit: 0, stderr: "" });
    // The first run hit the full disk (ENOSPC, a DiskFullError), the second finished the theme.
    const [first, second] = r.stdout.toString().trim().split("\n");
    expect({ first: /^(disk_full|ENOSPC)$/.test(first!), second }).toEqual({ first: true, second: "written" });
    // Before: the second run found the last file (empty, cut short) and took the theme for done.
    for (const f of files) expect({ f, same: readFileSync(join(dir, "after", f)).equals(readFileSync(join(dir, "reference", f))) }).toEqual({ f, same: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
