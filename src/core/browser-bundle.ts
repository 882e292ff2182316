// One browser file bundled by the Bun CLI (TS → one minified JS file, or CSS minified), for build-time macros that bake
// pages into the binary (the daemon's dashboard, the relay's chat page).
export function bunBuild(entry: string, extra: string[] = []): string {
  // Bun.build cannot run inside a macro (the bundler waits for the macro): run the CLI instead.
  const r = Bun.spawnSync([process.execPath, "build", entry, "--target=browser", "--minify", ...extra], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  if (!r.success) throw new Error(`page bundle failed for ${entry}:\n${r.stderr.toString()}`);
  return r.stdout.toString();
}
