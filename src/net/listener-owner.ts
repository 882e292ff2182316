// Which users' sockets listen on a loopback port (Linux /proc/net/tcp and tcp6): a client checks it before it sends the API token there.
import { readFileSync } from "node:fs";

const LISTEN = "0A";

/** Whether a /proc/net/tcp{,6} local address (hex, as the kernel prints it) can take a connection to a loopback address. */
function reachableFromLoopback(hex: string): boolean {
  if (/^0+$/.test(hex)) return true; // 0.0.0.0 or ::
  // IPv4 is printed as one little-endian word: 127.x.y.z ends in 7F.
  if (hex.length === 8) return hex.slice(6).toUpperCase() === "7F";
  // IPv6 as four little-endian words: ::1 and ::ffff:127.x.y.z.
  const h = hex.toUpperCase();
  return h === "00000000000000000000000001000000" || (h.startsWith("0000000000000000FFFF0000") && h.slice(30) === "7F");
}

/** The uids of the sockets in /proc/net/tcp{,6} text that listen on `port` where a connection to a loopback address lands. */
export function listenerUidsIn(tables: string[], port: number): number[] {
  const uids = new Set<number>();
  for (const table of tables)
    for (const line of table.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 8 || f[3] !== LISTEN) continue;
      const [addr, portHex] = f[1]!.split(":");
      if (parseInt(portHex ?? "", 16) !== port || !reachableFromLoopback(addr ?? "")) continue;
      uids.add(Number(f[7]));
    }
  return [...uids];
}

/** The uids listening on loopback `port` on this machine, or null where the system does not say (not Linux, no /proc). */
export function loopbackListenerUids(port: number): number[] | null {
  const tables: string[] = [];
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      tables.push(readFileSync(f, "utf8"));
    } catch {}
  }
  return tables.length ? listenerUidsIn(tables, port) : null;
}
