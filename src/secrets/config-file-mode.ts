// Keeps the config file private while it holds a secret itself (an inline credential, a URL with credentials in it).
import type { Config } from "../config/schema.ts";
import { keepPrivate } from "../config/file-mode.ts";
import { inlineSecretFields } from "../config/inline-secrets.ts";
import { redactUrl } from "../net/redact-url.ts";
import { logger } from "../core/log.ts";

const log = logger("secrets");

/** Files already said to stay readable (a read-only mount stays one: said once, not at every reload). */
const saidLoose = new Set<string>();

/** Whether the config holds a secret value: a credential pasted into a secret-name field, or a URL that redaction changes. */
export function configHoldsSecrets(config: Pick<Config, "tunnel" | "upstreams">): boolean {
  if (inlineSecretFields(config).length) return true;
  return [config.tunnel.relay_url, ...config.upstreams.map((u) => u.url)].some((url) => url && redactUrl(url) !== url);
}

/**
 * A hand-written config file is as readable as the editor's umask made it (0644): while it holds a secret, it is made
 * 0600 like the API token and secrets files, or, where it cannot be (a read-only mount), said once.
 */
export function keepConfigPrivate(file: string, config: Pick<Config, "tunnel" | "upstreams">): void {
  if (!configHoldsSecrets(config)) return;
  let kept: ReturnType<typeof keepPrivate>;
  try {
    kept = keepPrivate(file);
  } catch {
    // No file (defaults only): nothing to keep private.
    return;
  }
  if (kept === "tightened") log.warn("the config file holds secrets and was readable by others; its mode is now 0600", { file });
  else if (typeof kept === "object" && !saidLoose.has(file) && saidLoose.add(file)) log.warn("the config file holds secrets and is readable by others, and cannot be made 0600", { file, reason: kept.cannot });
}
