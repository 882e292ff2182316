// How an upstream's auth secret is sent ([[upstreams]] auth_header, auth_scheme): the broker and `doctor` send it alike.
import { isLoopbackHost } from "../net/host.ts";
import type { UpstreamConfig } from "./schema.ts";

/** The header's value for `secret`: "Bearer sk-…", or the secret alone when auth_scheme is empty. */
export function upstreamAuthValue(u: Pick<UpstreamConfig, "auth_scheme">, secret: string): string {
  return u.auth_scheme ? `${u.auth_scheme} ${secret}` : secret;
}

/**
 * Why this upstream's credential crosses the network readable by anyone on the path (an http:// url whose host is
 * not this machine), or null: the daemon logs it once as the upstream is set up, and `doctor` shows it. The credential
 * is its auth_secret, or a password (or a user name standing alone, a token) written into its url, which is sent as
 * `Authorization: Basic …`, as readable as the key. No secret in it.
 */
export function cleartextSecretWarning(u: Pick<UpstreamConfig, "name" | "url" | "auth_secret" | "enabled">): string | null {
  if (!u.enabled) return null;
  let url: URL;
  try {
    url = new URL(u.url);
  } catch {
    return null;
  }
  const inUrl = url.password !== "" || url.username !== "";
  if (!u.auth_secret && !inUrl) return null;
  if (url.protocol !== "http:" || isLoopbackHost(url.hostname)) return null;
  const what = u.auth_secret ? "its auth_secret" : "the credential in its url (sent as Basic auth)";
  return `upstream "${u.name}" gets ${what} in cleartext: its url is http:// to ${url.host}, another machine, so anyone on the network path can read the key; use https:// (ca_file for a private CA), or reach it through an SSH tunnel or a VPN`;
}
