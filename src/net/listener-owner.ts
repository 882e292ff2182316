// Which users' sockets listen on a loopback port (Linux /proc/net/tcp and tcp6): a client checks it before it sends the API token there.
import { parseProcNetTcp, socketTable, type SocketRow } from "./peer-uid.ts";

const LISTEN = "0A";

/** Whether a listener's local address takes a connection to a loopback address: a wildcard, 127.x.y.z (IPv4-mapped too) or ::1. */
function reachableFromLoopback(address: string): boolean {
  return address === "0.0.0.0" || /^0{32}$/.test(address) || address.startsWith("127.") || address === "00000000000000000000000000000001";
}

function listenerUids(rows: SocketRow[], port: number): number[] {
  const uids = new Set<number>();
  for (const r of rows) if (r.state === LISTEN && r.localPort === port && reachableFromLoopback(r.local)) uids.add(r.uid);
  return [...uids];
}

/** The uids of the sockets in /proc/net/tcp{,6} text that listen on `port` where a connection to a loopback address lands. */
export function listenerUidsIn(tables: string[], port: number): number[] {
  return listenerUids(tables.flatMap(parseProcNetTcp), port);
}

/** The uids listening on loopback `port` on this machine, or null where the system does not say (not Linux, no /proc). */
export function loopbackListenerUids(port: number): number[] | null {
  const rows = socketTable();
  return rows ? listenerUids(rows, port) : null;
}
