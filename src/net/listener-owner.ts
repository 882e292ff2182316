// Which users' sockets listen on a loopback port (Linux /proc/net/tcp and tcp6): a client checks it before it sends the API token there.
import { parseProcNetTcp, socketTable, type SocketRow } from "./peer-uid.ts";
import { readdirSync, readlinkSync } from "node:fs";

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

/**
 * Whether process `pid` holds a socket listening on loopback `port` (its /proc/PID/fd links to the listener's inode):
 * the CLI asks before it trusts a record that names the daemon's pid and address. Null where the system does not say
 * (not Linux, no /proc).
 */
export function pidListensOn(pid: number, port: number, read = socketTable, fdLinks = socketLinks): boolean | null {
  const rows = read();
  if (!rows) return null;
  const inodes = new Set(rows.filter((r) => r.state === LISTEN && r.localPort === port && reachableFromLoopback(r.local) && r.inode > 0).map((r) => `socket:[${r.inode}]`));
  if (!inodes.size) return false;
  const links = fdLinks(pid);
  return links !== null && links.some((l) => inodes.has(l));
}

/** Where each of a process's file descriptors links to; null when they cannot be read (gone, or another user's). */
function socketLinks(pid: number): string[] | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return "";
      }
    });
  } catch {
    return null;
  }
}
