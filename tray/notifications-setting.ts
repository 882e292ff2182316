// Reads and flips `[alerts] notifications` in the config file, keeping the user's comments and layout (written through the config store).
import { ConfigStore } from "../src/config/store.ts";
import { parseConfig } from "../src/config/load.ts";

export function readNotificationsSetting(file: string): boolean {
  const text = new ConfigStore(file).read();
  if (text === null) return true;
  const r = parseConfig(text, file);
  return r.ok ? r.config.alerts.notifications : true;
}

/** Sets one key of one table in TOML text, editing the line in place when it exists. */
export function setTomlKey(text: string, table: string, key: string, literal: string): string {
  const lines = text.split("\n");
  const header = new RegExp(`^\\s*\\[\\s*${table.replace(/\./g, "\\.")}\\s*\\]\\s*(#.*)?$`);
  const start = lines.findIndex((l) => header.test(l));
  if (start < 0) {
    const sep = text === "" || text.endsWith("\n") ? "" : "\n";
    return `${text}${sep}\n[${table}]\n${key} = ${literal}\n`;
  }
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) if (/^\s*\[/.test(lines[i]!)) (end = i), (i = lines.length);
  const keyRe = new RegExp(`^(\\s*${key}\\s*=\\s*)([^#]*?)(\\s*#.*)?$`);
  for (let i = start + 1; i < end; i++) {
    const m = keyRe.exec(lines[i]!);
    if (m) {
      lines[i] = `${m[1]}${literal}${m[3] ?? ""}`;
      return lines.join("\n");
    }
  }
  lines.splice(start + 1, 0, `${key} = ${literal}`);
  return lines.join("\n");
}

/** Writes the new value; the daemon picks it up through its config watcher. Throws with the validation message on failure. */
export function writeNotificationsSetting(file: string, on: boolean): void {
  const store = new ConfigStore(file);
  const next = setTomlKey(store.read() ?? "", "alerts", "notifications", on ? "true" : "false");
  const r = store.write(next);
  if (!r.ok) throw new Error(`could not save the notifications setting: ${r.issues[0]!.path} ${r.issues[0]!.message}`);
}
