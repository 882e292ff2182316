// Finds whether an icon is installed in a hicolor theme that icon loaders search (kept apart from the renderers: no zlib).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { iconName } from "./shapes.ts";

function dataDirs(env: NodeJS.ProcessEnv): string[] {
  const home = env.XDG_DATA_HOME || (env.HOME ? join(env.HOME, ".local/share") : "");
  return [home, ...(env.XDG_DATA_DIRS || "/usr/local/share:/usr/share").split(":")].filter(Boolean);
}

/** True when `name` is in hicolor (scalable SVG or 48 px PNG, apps/ or status/, as install and the packages put them). */
export function iconInstalled(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const files = ["apps", "status"].flatMap((ctx) => [`scalable/${ctx}/${name}.svg`, `48x48/${ctx}/${name}.png`]);
  return dataDirs(env).some((d) => files.some((f) => existsSync(join(d, "icons/hicolor", f))));
}

/** True when the tray-state icons are installed (then no private IconThemePath is needed). */
export function iconsInstalled(env: NodeJS.ProcessEnv = process.env): boolean {
  return iconInstalled(iconName("good"), env);
}
