// The one Host parser: IP literals are recognised exactly (dotted quad, bracketed IPv6), never by prefix, so 127.0.0.1.nip.io is a name.

export interface ParsedHost {
  /** Lower case, without brackets, port or a trailing dot; IPv6 in one canonical spelling (eight hex groups). */
  host: string;
  kind: "ipv4" | "ipv6" | "name";
  port: number | null;
}

const DEC_OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)$/;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * A strict dotted quad ("127.0.0.1"), or null. Shorthands other parsers accept ("127.1", "0x7f.0.0.1", "0177.0.0.1",
 * "2130706433") are not addresses here: a browser never sends them (it canonicalises), so they can only be names.
 */
export function parseIpv4(s: string): number[] | null {
  const parts = s.split(".");
  if (parts.length !== 4 || !parts.every((p) => DEC_OCTET.test(p))) return null;
  return parts.map(Number);
}

/** Eight 16-bit groups of an IPv6 literal (without brackets; "::" and a trailing dotted quad allowed), or null. */
export function parseIpv6(s: string): number[] | null {
  if (!/^[0-9a-f:.]+$/i.test(s)) return null;
  let tail: number[] = [];
  let text = s;
  if (s.includes(".")) {
    const i = s.lastIndexOf(":");
    const v4 = i < 0 ? null : parseIpv4(s.slice(i + 1));
    if (!v4) return null;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    text = s.slice(0, i + 1); // "::ffff:" → "::ffff"; "::" stays "::"
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (![...head, ...rest].every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return null;
  const zeros = halves.length === 2 ? 8 - known : 0;
  return [...head.map((g) => parseInt(g, 16)), ...Array<number>(zeros).fill(0), ...rest.map((g) => parseInt(g, 16)), ...tail];
}

/** A bare IPv6 address ("::1", as in a listen address or URL hostname) gets its brackets, so it parses like a Host header. */
function bracketed(host: string): string {
  return host.indexOf(":") !== host.lastIndexOf(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/**
 * A Host header value ("127.0.0.1:8765", "[::1]:8765", "LocalHost", "box.lan.") or a host from config, or null when it is
 * not a well-formed host (no scheme, path, userinfo or spaces; a port is digits only; a name is dotted DNS labels).
 */
export function parseHost(value: string): ParsedHost | null {
  // Every request's Host header (and caller address) comes here, and they repeat: parse each spelling once. Bounded, so
  // a client sending endless different names only empties the cache.
  let h = parsedHosts.get(value);
  if (h === undefined) {
    h = parse(value);
    if (parsedHosts.size >= PARSED_HOSTS_MAX) parsedHosts.clear();
    parsedHosts.set(value, h && Object.freeze(h));
  }
  return h;
}

const parsedHosts = new Map<string, Readonly<ParsedHost> | null>();
const PARSED_HOSTS_MAX = 256;

function parse(value: string): ParsedHost | null {
  let s = value.trim().toLowerCase();
  let port: number | null = null;
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0) return null;
    const after = s.slice(end + 1);
    if (after !== "") {
      if (!/^:\d{1,5}$/.test(after)) return null;
      port = Number(after.slice(1));
    }
    const groups = parseIpv6(s.slice(1, end));
    return groups && (port === null || port <= 65535) ? { host: groups.map((g) => g.toString(16)).join(":"), kind: "ipv6", port } : null;
  }
  const colon = s.indexOf(":");
  if (colon >= 0) {
    if (!/^\d{1,5}$/.test(s.slice(colon + 1))) return null;
    port = Number(s.slice(colon + 1));
    if (port > 65535) return null;
    s = s.slice(0, colon);
  }
  if (parseIpv4(s)) return { host: s, kind: "ipv4", port };
  if (s.endsWith(".")) {
    s = s.slice(0, -1);
    // "127.0.0.1." is no address here (a browser sends the bare quad; a resolver may look it up as a name), and not
    // the name "127.0.0.1" either: that would match a configured or listened-on address of that spelling.
    if (parseIpv4(s)) return null;
  }
  if (s === "" || s.length > 253 || !s.split(".").every((l) => LABEL.test(l))) return null;
  return { host: s, kind: "name", port };
}

/** Loopback by address: 127.0.0.0/8, ::1, and IPv4-mapped ::ffff:127.x.y.z. */
export function isLoopbackAddress(h: ParsedHost): boolean {
  if (h.kind === "ipv4") return h.host.startsWith("127.");
  if (h.kind !== "ipv6") return false;
  const g = h.host.split(":").map((x) => parseInt(x, 16));
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  return (zeros(7) && g[7] === 1) || (zeros(5) && g[5] === 0xffff && g[6]! >> 8 === 127);
}

/** "localhost" and names under it: browsers and resolvers answer these with loopback themselves (RFC 6761), so they cannot be rebound. */
export function isLocalhostName(h: ParsedHost): boolean {
  return h.kind === "name" && (h.host === "localhost" || h.host.endsWith(".localhost"));
}

/** A host (a listen address's host, a URL's hostname with or without brackets) that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = parseHost(bracketed(host));
  return !!h && h.port === null && (isLoopbackAddress(h) || isLocalhostName(h));
}

/** Config entries (allowed_hosts, a listen host) in the form Host headers are compared in; malformed entries match nothing. */
export function hostSet(entries: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const e of entries) {
    const h = parseHost(bracketed(e));
    if (h) out.add(h.host);
  }
  return out;
}

/**
 * The DNS-rebinding rule of every local listener: a browser sends the name it resolved, so only names that cannot point
 * elsewhere are accepted — a loopback IP literal, localhost (and *.localhost) — plus the names the user configured
 * (`configured`, built with hostSet()). A page on evil.example (or 127.0.0.1.nip.io) that re-resolves to 127.0.0.1 is refused.
 */
export function hostHeaderAllowed(value: string, configured: ReadonlySet<string>): boolean {
  const h = parseHost(value);
  if (!h) return false;
  return isLoopbackAddress(h) || isLocalhostName(h) || configured.has(h.host);
}
