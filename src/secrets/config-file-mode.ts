// Keeps the config file private while it holds a secret itself (an inline credential, a URL with credentials in it).
import type { Config } from "../config/schema.ts";
import { keepPrivate } from "../config/file-mode.ts";
import { redactSecrets } from "../config/redact.ts";
import { logger } from "../core/log.ts";

const log = logger("secrets");

/** Files already said to stay readable (a read-only mount stays one: said once, not at every reload). */
const saidLoose = new Set<string>();

/** Whether the config holds a secret value: what `config export` redacts (a pasted credential, a URL's password or key). */
export function configHoldsSecrets(config: Pick<Config, "tunnel" | "upstreams">): boolean {
  return redactSecrets({ tunnel: config.tunnel, upstreams: config.upstreams }).redacted.length > 0;
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
