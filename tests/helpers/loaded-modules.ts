// A --preload for a daemon or relay under test: on SIGUSR2 it writes the paths of every module loaded so far to
// loaded-modules.json in its working directory, so a test can see what an idle process has loaded
// (tests/api/lazy-load.test.ts).
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export const LOADED_MODULES_FILE = "loaded-modules.json";

process.on("SIGUSR2", () => {
  const registry = (globalThis as { Loader?: { registry: Map<string, unknown> } }).Loader?.registry;
  const keys = registry ? [...registry.keys()] : Object.keys(require.cache);
  writeFileSync(join(process.cwd(), LOADED_MODULES_FILE), JSON.stringify(keys));
});
