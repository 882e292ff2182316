// Builds the compiled binary once for the tests that need it: rebuilt only when missing or older than the sources.
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { build, defaultOutfile, REPO } from "../../packaging/build.ts";

// systemd/ and packaging/desktop/ are embedded too (the install command writes them).
const SOURCES = ["src", "tray", "package.json", "bun.lock", "package-lock.json", "packaging/build.ts", "packaging/bytecode-order.txt", "systemd", "packaging/desktop"];

function newestSource(p = "", depth = 0): number {
  const roots = p ? [p] : SOURCES.map((s) => join(REPO, s));
  let newest = 0;
  for (const r of roots) {
    if (!existsSync(r)) continue;
    const st = statSync(r);
    if (st.isDirectory()) {
      for (const e of readdirSync(r)) if (!e.endsWith(".test.ts")) newest = Math.max(newest, newestSource(join(r, e), depth + 1));
    } else newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

let pending: Promise<string> | null = null;

/** Path of dist/cloudtolocalllm-tunnel, built if missing or stale. Safe when several test processes race (build to a temp file, rename). */
export function ensureBinary(): Promise<string> {
  return (pending ??= (async () => {
    const out = defaultOutfile();
    if (existsSync(out) && statSync(out).mtimeMs >= newestSource()) return out;
    const tmp = `${out}.build-${process.pid}`;
    try {
      const r = await build({ outfile: tmp, quiet: true });
      renameSync(tmp, out);
      writeFileSync(`${out}.sha256`, `${r.sha256}  ${basename(out)}\n`);
    } finally {
      rmSync(tmp, { force: true });
      rmSync(`${tmp}.sha256`, { force: true });
    }
    return out;
  })().catch((e) => {
    pending = null;
    throw e;
  }));
}
