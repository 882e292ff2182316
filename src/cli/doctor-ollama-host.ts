// doctor's look at OLLAMA_HOST when an Ollama upstream does not answer: Ollama moved to another port answers there, and
// the fix is the upstream's url, not "start Ollama" (a second `ollama serve` fails on the port the first one holds).
import { existsSync, readFileSync } from "node:fs";
import { baseUrlOf } from "../core/listen-url.ts";
import { isLocalhostName, isLoopbackAddress, parseHost } from "../net/host.ts";

/**
 * The URL a client on this machine reaches OLLAMA_HOST at, read as Ollama reads it (envconfig.Host): without a scheme
 * the port defaults to 11434 (with http:// to 80, https:// to 443), no host is 127.0.0.1, and a wildcard bind (0.0.0.0,
 * ::) is reached through loopback. Null when unset or unreadable.
 */
export function ollamaHostUrl(value: string | undefined): string | null {
  const v = value?.trim();
  if (!v) return null;
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(v);
  const scheme = m ? m[1]!.toLowerCase() : "http";
  if (scheme !== "http" && scheme !== "https") return null;
  const hostport = (m ? m[2]! : v).split("/")[0]!;
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(hostport);
  if (!hp) return null;
  const port = hp[2] ?? (!m ? "11434" : scheme === "https" ? "443" : "80");
  const host = !hp[1] || hp[1] === "0.0.0.0" ? "127.0.0.1" : hp[1] === "[::]" ? "[::1]" : hp[1];
  return `${scheme}://${host}:${port}`;
}

/**
 * Whether two URLs name the same server: `localhost` is a loopback address (127.0.0.1 or ::1, whichever the resolver
 * gives first), so OLLAMA_HOST=localhost:11435, as apps are told to use, is the broker on 127.0.0.1:11435.
 */
function same(a: string, b: string): boolean {
  let x: URL, y: URL;
  try {
    [x, y] = [new URL(a), new URL(b)];
  } catch {
    return false;
  }
  if (x.protocol !== y.protocol || x.port !== y.port) return false;
  if (x.hostname === y.hostname) return true;
  const [hx, hy] = [parseHost(x.hostname), parseHost(y.hostname)];
  return !!hx && !!hy && ((isLocalhostName(hx) && isLoopbackAddress(hy)) || (isLocalhostName(hy) && isLoopbackAddress(hx)));
}

/**
 * Where OLLAMA_HOST says Ollama listens, when that is not the upstream's url, nor the broker itself (OLLAMA_HOST is
 * also how the `ollama` CLI is pointed at the broker), and an Ollama answers /api/version there; else null.
 */
export async function ollamaElsewhere(upstreamUrl: string, env: NodeJS.ProcessEnv, brokerListen: string, timeoutMs: number): Promise<string | null> {
  const at = ollamaHostUrl(env.OLLAMA_HOST);
  if (!at || same(at, upstreamUrl) || same(at, baseUrlOf(brokerListen))) return null;
  try {
    const res = await fetch(`${at}/api/version`, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    const body = (await res.json().catch(() => null)) as { version?: unknown } | null;
    return res.ok && typeof body?.version === "string" ? at : null;
  } catch {
    return null;
  }
}

/** The fix for an upstream whose Ollama answers at `at`: its url, in the entry of the file, or a new entry when the file has none (the defaults apply). */
export function movedFix(at: string, name: string, file: string): string {
  const declared = existsSync(file) && /^\s*\[\[\s*upstreams\s*\]\]/m.test(readFileSync(file, "utf8"));
  const where = declared ? `set url = "${at}" in the [[upstreams]] entry "${name}" of ${file}` : `add to ${file}: [[upstreams]] name = "${name}" url = "${at}" (one per line)`;
  return `Ollama answers at ${at} (OLLAMA_HOST): ${where}`;
}

/**
 * The fix when OLLAMA_HOST is the broker's own address (how apps and the `ollama` CLI are pointed at it): a plain
 * `ollama serve` would read it too and try to take the broker's port. Null when it is not.
 */
export function brokerHostFix(upstreamUrl: string, env: NodeJS.ProcessEnv, brokerListen: string): string | null {
  const at = ollamaHostUrl(env.OLLAMA_HOST);
  if (!at || !same(at, baseUrlOf(brokerListen))) return null;
  let own: string;
  try {
    own = new URL(upstreamUrl).host;
  } catch {
    return null;
  }
  return `OLLAMA_HOST is the broker's own address (${new URL(at).host}), so a plain \`ollama serve\` would try to take the broker's port: start Ollama at its url with \`OLLAMA_HOST=${own} ollama serve\``;
}
