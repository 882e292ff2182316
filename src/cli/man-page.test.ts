// The generated man page as `man` renders it: in a UTF-8 locale and in the C locale (a server, `env -i`), no troff warning.
import { afterAll, expect } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTools } from "../../tests/helpers/requires.ts";
import { COMMANDS } from "./commands.ts";
import { manPage } from "./man-page.ts";

const dir = mkdtempSync(join(tmpdir(), "c2l-man-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

for (const locale of [null, "C.UTF-8"]) {
  requireTools(["man"]).test(`man renders the page ${locale ? `in ${locale}` : "in the C locale (no LANG)"} without a warning, the doctor legend's marks included`, async () => {
    const file = join(dir, "cloudtolocalllm-tunnel.1");
    writeFileSync(file, await manPage(COMMANDS, "3.0.0", new Date("2026-12-07T00:00:00Z")));
    const r = Bun.spawnSync(["man", "-l", file], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", MANPAGER: "cat", MANWIDTH: "120", ...(locale ? { LANG: locale } : {}) }, stdout: "pipe", stderr: "pipe" });
    expect({ code: r.exitCode, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" });
    const legend = r.stdout.toString().split("\n").find((l) => l.includes("warning (works, but something is missing)"));
    expect(legend?.trim()).toBe(locale ? "✓ ok   ! warning (works, but something is missing)   ✗ problem (exit code 1)" : "+ ok   ! warning (works, but something is missing)   x problem (exit code 1)");
  });
}
