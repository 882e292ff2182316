// Who owns a TCP socket on this machine, from the kernel's tables in /proc/net/tcp{,6} (what identd reads): the other end of a loopback connection, a listener.
import { readFileSync } from "node:fs";

export interface SocketRow {
  /** The kernel's TCP state in hex: "0A" listening, "01" established. */
  state: string;
  /** Canonical address ("127.0.0.1", or 32 hex digits for IPv6 that is not IPv4-mapped) and port of each end. */
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  uid: number;
  /** The socket's inode: /proc/PID/fd/N links to `socket:[inode]` in the process that holds it. */
  inode: number;
}

/** /proc writes each 32-bit word of an address in the kernel's (little-endian) byte order. */
function wordBytes(hex: string): number[] {
  const out: number[] = [];
  for (let w = 0; w < hex.length; w += 8) for (let b = 6; b >= 0; b -= 2) out.push(parseInt(hex.slice(w + b, w + b + 2), 16));
  return out;
}

/** IPv4 and IPv4-mapped IPv6 become a dotted quad, so a dual-stack listener's `::ffff:127.0.0.1` meets the client's IPv4 row. */
function canonical(bytes: number[]): string {
  if (bytes.length === 4) return bytes.join(".");
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return bytes.slice(12).join(".");
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Parses /proc/net/tcp or /proc/net/tcp6 (the header line is skipped); a malformed line is left out, never thrown on. */
export function parseProcNetTcp(text: string): SocketRow[] {
  const rows: SocketRow[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [la, lp] = f[1]!.split(":");
    const [ra, rp] = f[2]!.split(":");
    const uid = Number(f[7]);
    const inode = Number(f[9] ?? NaN);
    if (!la || !lp || !ra || !rp || !/^[0-9A-Fa-f]+$/.test(la + ra) || !Number.isInteger(uid)) continue;
    rows.push({ state: f[3]!.toUpperCase(), local: canonical(wordBytes(la)), localPort: parseInt(lp, 16), remote: canonical(wordBytes(ra)), remotePort: parseInt(rp, 16), uid, inode: Number.isInteger(inode) ? inode : 0 });
  }
  return rows;
}

/** An address as Bun's requestIP gives it ("127.0.0.1", "::1", "::ffff:127.0.0.1") in the canonical form above; null if unparsable. */
export function canonicalAddress(address: string): string | null {
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/i.exec(address);
  if (v4) return v4.slice(1).map(Number).join(".");
  const parts = address.split("::");
  if (parts.length > 2) return null;
  const side = (s: string) => (s ? s.split(":") : []);
  const head = side(parts[0]!);
  const tail = parts.length === 2 ? side(parts[1]!) : [];
  const fill = parts.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(Math.max(fill, 0)).fill("0"), ...tail];
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  const bytes = groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
  return canonical(bytes);
}

export type ReadProc = (path: string) => string;
const readProc: ReadProc = (path) => readFileSync(path, "utf8");

/** The rows of /proc/net/tcp and /proc/net/tcp6; null where the system does not say (not Linux, no /proc). */
export function socketTable(read: ReadProc = readProc): SocketRow[] | null {
  let rows: SocketRow[] | null = null;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      (rows ??= []).push(...parseProcNetTcp(read(file)));
    } catch {}
  }
  return rows;
}

/**
 * The uid of the process side that connected from `peer` to our listening `serverPort`: its socket is the row whose
 * local end is the peer and whose remote end is our port. Null when no such row is visible (another network namespace,
 * no /proc): the caller decides what unknown means.
 */
export function peerUid(peer: { address: string; port: number }, serverPort: number, read: ReadProc = readProc): number | null {
  const address = canonicalAddress(peer.address);
  if (!address) return null;
  for (const r of socketTable(read) ?? []) if (r.localPort === peer.port && r.remotePort === serverPort && r.local === address) return r.uid;
  return null;
}

/** A listener that can name a request's peer: Bun's Server, or what the API front hands Elysia as its `server`. */
export interface PeerSource {
  port?: number;
  requestIP?(request: Request): { address: string; port: number } | null;
}

/**
 * True when the request's connection comes from another local user. One-time links pass through xdg-open's (and the
 * browser's) arguments, which every local user can read in /proc: the code alone must not let them in. Unknown (no /proc,
 * a peer outside this network namespace, which only a non-loopback listener allows) is not refused: the code decides.
 */
export function fromOtherUser(server: PeerSource | null | undefined, request: Request, ownUid = process.getuid?.(), read: ReadProc = readProc): boolean {
  if (ownUid === undefined || !server?.requestIP || !server.port) return false;
  const peer = server.requestIP(request);
  if (!peer) return false;
  const uid = peerUid(peer, server.port, read);
  return uid !== null && uid !== ownUid;
}
