// Calls to this machine never go through an HTTP proxy named in the environment: tokens, keys and prompts stay local.

/** This machine's names, as the no-proxy list matches them. */
const LOOPBACK = ["localhost", "127.0.0.1", "::1"];
const PROXY_VARS = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"];

/**
 * Adds this machine's names to NO_PROXY and no_proxy (Bun reads the lower-case one first when both are set). With
 * HTTP_PROXY set (a corporate desktop) and loopback not listed, Bun's fetch, unlike Go's and browsers', sends
 * http://127.0.0.1 calls to the proxy: `status` and the tray handed it the control API token, and the broker a local
 * upstream's key and every prompt. Other hosts still go through the proxy as the environment says.
 */
export function keepLoopbackDirect(env: Record<string, string | undefined> = process.env): void {
  if (!PROXY_VARS.some((v) => env[v])) return;
  const listed = ["NO_PROXY", "no_proxy"].flatMap((v) => (env[v] ?? "").split(",")).map((h) => h.trim()).filter(Boolean);
  if (listed.includes("*")) return;
  const all = [...new Set([...listed, ...LOOPBACK])].join(",");
  env.NO_PROXY = all;
  env.no_proxy = all;
}
