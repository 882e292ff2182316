// Finds whether the icons are installed in a hicolor theme that icon loaders search (kept apart from the renderers: no zlib).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { iconName } from "./shapes.ts";

function dataDirs(env: NodeJS.ProcessEnv): string[] {
  const home = env.XDG_DATA_HOME || (env.HOME ? join(env.HOME, ".local/share") : "");
  return [home, ...(env.XDG_DATA_DIRS || "/usr/local/share:/usr/share").split(":")].filter(Boolean);
}

/** True when the state icons are installed where hosts look (then no private IconThemePath is needed). */
export function iconsInstalled(env: NodeJS.ProcessEnv = process.env): boolean {
  const files = [`scalable/apps/${iconName("good")}.svg`, `48x48/apps/${iconName("good")}.png`];
  return dataDirs(env).some((d) => files.some((f) => existsSync(join(d, "icons/hicolor", f))));
}
