// D-Bus session bus addresses: where the session bus is, and the unix sockets an address names (path, abstract, socket).
import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { runtimeDir } from "../config/paths.ts";

/** The session bus address: DBUS_SESSION_BUS_ADDRESS, else the systemd user bus socket; null when there is none. */
export function sessionBusAddress(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
  // A relative XDG_RUNTIME_DIR is ignored, as everywhere (src/config/paths.ts): it would name another socket per directory.
  const rt = env.XDG_RUNTIME_DIR !== undefined ? (isAbsolute(env.XDG_RUNTIME_DIR) ? env.XDG_RUNTIME_DIR : undefined) : runtimeDir();
  if (rt && existsSync(join(rt, "bus"))) return `unix:path=${escape(join(rt, "bus"))}`;
  return null;
}

/** An address value as the specification writes it: bytes other than [-0-9A-Za-z_/.\\*] as %XX (a "," or ";" would split it). */
const escape = (v: string) => [...Buffer.from(v)].map((b) => (/[-0-9A-Za-z_/.\\*]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, "0")}`)).join("");

/** One unix socket an address offers: a file path, or an abstract name (connected to as "\0NAME"). */
export interface BusSocket {
  path: string;
  abstract: boolean;
}

/** Address values escape bytes as %XX (the specification's "optionally-escaped" characters). */
const unescape = (v: string) =>
  // Escaped bytes are UTF-8 ("/run/José" is /run/Jos%c3%a9); a run that is not is taken byte by byte.
  v.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    }
  });

/**
 * The unix sockets of an address, in the order to try them (`unix:path=`, `unix:abstract=`, and `unix:socket=` as
 * dbus-next wrote it); other transports (tcp, launchd) are left out: a session bus on this machine is a unix socket.
 */
export function busSockets(address: string): BusSocket[] {
  const out: BusSocket[] = [];
  for (const entry of address.split(";")) {
    const m = /^unix:(.*)$/.exec(entry.trim());
    if (!m) continue;
    const kv = new Map(m[1]!.split(",").map((p) => [p.slice(0, p.indexOf("=")), unescape(p.slice(p.indexOf("=") + 1))] as const));
    if (kv.get("path")) out.push({ path: kv.get("path")!, abstract: false });
    else if (kv.get("abstract")) out.push({ path: "\0" + kv.get("abstract")!, abstract: true });
    else if (kv.get("socket")) out.push({ path: kv.get("socket")!, abstract: kv.get("socket")!.startsWith("\0") });
  }
  return out;
}
