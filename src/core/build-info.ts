// Version, commit and build date: baked in by packaging/build.ts with --define, read from git in development.
declare const __VERSION__: string | undefined;
declare const __COMMIT__: string | undefined;
declare const __BUILD_DATE__: string | undefined;

import pkg from "../../package.json" with { type: "json" };

function devCommit(): string {
  try {
    const r = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: import.meta.dir, stderr: "ignore" });
    return r.success ? r.stdout.toString().trim() : "unknown";
  } catch {
    return "unknown";
  }
}

export const VERSION: string = typeof __VERSION__ === "string" ? __VERSION__ : pkg.version;
export const COMMIT: string = typeof __COMMIT__ === "string" ? __COMMIT__ : devCommit();
export const BUILD_DATE: string = typeof __BUILD_DATE__ === "string" ? __BUILD_DATE__ : "development";
/** Version of the tunnel wire protocol (src/protocol) and of the control API. */
export const PROTOCOL_VERSION = 2;
export const API_VERSION = "1";
