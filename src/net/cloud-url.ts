// The relay URLs a user deals with: the cloud URL clients use for a tunnel (https://RELAY/t/ID/), ready-to-paste
// examples of it, and the agent URL to suggest for a relay_url given in the wrong form.

/** The agent path of a relay with the default config ([relay] agent_path). */
export const DEFAULT_AGENT_PATH = "/agent";

const HTTP_OF: Record<string, string> = { "wss:": "https:", "ws:": "http:", "https:": "https:", "http:": "http:" };

/**
 * The URL cloud clients call to reach tunnel `tunnelId` through the relay at `relayUrl` (the agent's ws:// or wss:// URL):
 * the relay serves /t/ID/... at its root (src/relay/routes.ts), over http for ws and https for wss. null when either is
 * unknown or the relay URL is not one.
 */
export function cloudUrl(relayUrl: string | null | undefined, tunnelId: string | null | undefined): string | null {
  if (!relayUrl || !tunnelId) return null;
  let u: URL;
  try {
    u = new URL(relayUrl);
  } catch {
    return null;
  }
  const proto = HTTP_OF[u.protocol];
  return proto ? `${proto}//${u.host}/t/${encodeURIComponent(tunnelId)}/` : null;
}

/**
 * Ready-to-paste uses of a cloud URL: a curl listing the models, the OpenAI client's base URL, that client in Python,
 * and the relay's chat page (/chat at the relay's root: a browser, a phone, reaches the tunnel there).
 */
export function cloudExamples(url: string): { curl: string; openaiBaseUrl: string; python: string; chatPage: string } {
  return {
    curl: `curl -H "Authorization: Bearer $CLIENT_KEY" ${url}v1/models`,
    openaiBaseUrl: `${url}v1`,
    python: `from openai import OpenAI\nclient = OpenAI(base_url="${url}v1", api_key=CLIENT_KEY)`,
    chatPage: new URL("/chat", url).href,
  };
}

/**
 * The agent URL a user most likely meant for a relay_url that is not a ws:// or wss:// URL (https://relay.example.com
 * → wss://relay.example.com/agent); null when there is nothing sensible to suggest.
 */
export function suggestAgentUrl(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw.includes("://") ? raw : `wss://${raw}`);
  } catch {
    return null;
  }
  const proto = { "https:": "wss:", "http:": "ws:", "wss:": "wss:", "ws:": "ws:" }[u.protocol];
  if (!proto || !u.host) return null;
  const path = u.pathname === "/" || u.pathname === "" ? DEFAULT_AGENT_PATH : u.pathname;
  return `${proto}//${u.host}${path}`;
}

/** The agent URL to suggest when the relay answered 404 at `relayUrl`'s path: the same relay at the default agent path. */
export function agentPathHint(relayUrl: string): string {
  try {
    const u = new URL(relayUrl);
    const at = `${u.protocol}//${u.host}${DEFAULT_AGENT_PATH}`;
    return u.pathname === DEFAULT_AGENT_PATH
      ? `check [relay] agent_path on the relay and set [tunnel] relay_url to match`
      : `set [tunnel] relay_url to ${at} (the relay's default agent path; see [relay] agent_path)`;
  } catch {
    return "set [tunnel] relay_url to the relay's agent URL, e.g. wss://relay.example.com/agent";
  }
}
