// The few settings the tray needs (API address, token file, notifications), read without the full schema validator to keep the tray small.
import { existsSync, readFileSync } from "node:fs";
import { parse } from "smol-toml";

export interface TrayConfig {
  api: { listen: string; token_file: string };
  notifications: boolean;
}

const DEFAULTS: TrayConfig = { api: { listen: "127.0.0.1:8765", token_file: "" }, notifications: true };

/** Reads the settings; a missing or unreadable file gives the defaults (the daemon reports config errors, not the tray). */
export function readTrayConfig(file: string): TrayConfig {
  if (!existsSync(file)) return structuredClone(DEFAULTS);
  let raw: Record<string, unknown>;
  try {
    raw = parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return structuredClone(DEFAULTS);
  }
  const api = (raw.api ?? {}) as Record<string, unknown>;
  const alerts = (raw.alerts ?? {}) as Record<string, unknown>;
  return {
    api: {
      listen: typeof api.listen === "string" ? api.listen : DEFAULTS.api.listen,
      token_file: typeof api.token_file === "string" ? api.token_file : "",
    },
    notifications: typeof alerts.notifications === "boolean" ? alerts.notifications : true,
  };
}
