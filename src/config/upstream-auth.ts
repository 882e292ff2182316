// How an upstream's auth secret is sent ([[upstreams]] auth_header, auth_scheme): the broker and `doctor` send it alike.
import type { UpstreamConfig } from "./schema.ts";

/** The header's value for `secret`: "Bearer sk-…", or the secret alone when auth_scheme is empty. */
export function upstreamAuthValue(u: Pick<UpstreamConfig, "auth_scheme">, secret: string): string {
  return u.auth_scheme ? `${u.auth_scheme} ${secret}` : secret;
}
