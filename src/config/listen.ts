// Splits and checks "host:port" listen addresses ("[::1]:8765" for IPv6).
export function splitListen(addr: string): { hostname: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(addr) ?? /^([^:[\]]+):(\d+)$/.exec(addr);
  if (!m) throw new Error(`not a listen address: "${addr}" (use host:port, e.g. 127.0.0.1:8765)`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port ${m[2]} is out of range (0-65535)`);
  return { hostname: m[1]!, port };
}

/**
 * The address a listen host is bound at: "localhost" is 127.0.0.1, as Ollama (Go) binds it. The resolver may list ::1
 * first (Fedora, Arch) and Bun binds only the first address: apps told to use http://127.0.0.1:11435 found nothing there.
 */
export function bindHost(hostname: string): string {
  return hostname.toLowerCase() === "localhost" ? "127.0.0.1" : hostname;
}

/** Whether a listen host (or a URL's hostname) is loopback: parsed as an address, never matched by prefix (see src/core/host.ts). */
export { isLoopbackHost } from "../net/host.ts";

/** A listen address split into what is bound: "localhost" as 127.0.0.1 (bindHost). The daemon and the relay both bind so. */
export function bindAddress(addr: string): { hostname: string; port: number } {
  const { hostname, port } = splitListen(addr);
  return { hostname: bindHost(hostname), port };
}
