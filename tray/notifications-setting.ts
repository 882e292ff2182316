// Flips `[alerts] notifications` in the config file, keeping the user's comments and layout (written through the config store).

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
  for (let i = start + 1; i < lines.length; i++) {
    if (/^\s*\[/.test(lines[i]!)) {
      end = i;
      break;
    }
  }
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

/** Writes the new value (validated, backed up); the daemon picks it up through its config watcher. */
export async function writeNotificationsSetting(file: string, on: boolean): Promise<void> {
  // The store pulls in the schema validator: loaded only when the user flips the switch.
  const { ConfigStore } = await import("../src/config/store.ts");
  const store = new ConfigStore(file);
  const next = setTomlKey(store.read() ?? "", "alerts", "notifications", on ? "true" : "false");
  const r = store.write(next);
  if (!r.ok) throw new Error(`could not save the notifications setting: ${r.issues[0]!.path || "file"}: ${r.issues[0]!.message}`);
}
