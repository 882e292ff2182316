// The http:// base URL a client on this machine uses to reach a listener, from its `host:port` listen address.
import { splitListen } from "../config/listen.ts";

/** Wildcard listen addresses are reached through loopback. Kept free of heavy imports: the tray uses it. */
export function baseUrlOf(listen: string): string {
  const { hostname, port } = splitListen(listen);
  const host = hostname === "0.0.0.0" ? "127.0.0.1" : hostname === "::" ? "::1" : hostname;
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}
