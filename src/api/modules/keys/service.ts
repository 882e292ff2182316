// Listing, reading, creating and revoking gateway keys through ctx.services.gateway (the CLI edits the same file).
import type { DaemonContext } from "../../../core/component.ts";
import type { GatewayService, KeyInfo } from "../../../core/contracts.ts";
import { HttpError } from "../../../core/http-error.ts";
import { parseExpiry } from "../../../gateway/keys.ts";
import { pageOf } from "../../paging.ts";

function gateway(ctx: DaemonContext): GatewayService {
  const g = ctx.services.gateway;
  if (!g) throw new HttpError("unavailable", "the gateway is not running, so keys cannot be managed");
  return g;
}

/** The keys by name (code-point order, as the cursor compares), the page after `after`. */
export function listKeys(ctx: DaemonContext, q: { limit?: number; after?: string } = {}): KeyInfo[] {
  const sorted = gateway(ctx).keys().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return pageOf(sorted, q.after === undefined ? null : (k) => k.name > q.after!, q.limit).items;
}

export function getKey(ctx: DaemonContext, name: string): KeyInfo {
  const k = gateway(ctx).key(name);
  if (!k) throw new HttpError("not_found", `no key named "${name}"`);
  return k;
}

export interface CreateKeyInput {
  name: string;
  models?: string[];
  rpm?: number;
  tokens_per_day?: number;
  max_parallel?: number;
  allow_model_management?: boolean;
  expires?: string;
}

/** The schema's pattern takes any count; one too long for a date is the caller's to fix (422), not a 500. */
function expiry(text: string): number {
  try {
    return parseExpiry(text, "body.expires");
  } catch (e) {
    throw new HttpError("validation_failed", (e as Error).message, [{ path: "body.expires", message: (e as Error).message }]);
  }
}

export function createKey(ctx: DaemonContext, input: CreateKeyInput): KeyInfo & { key: string } {
  const g = gateway(ctx);
  if (g.key(input.name)) throw new HttpError("conflict", `a key named "${input.name}" exists already; revoke it first or choose another name`);
  const { key, info } = g.createKey(input.name, {
    models: input.models ?? [],
    rpm: input.rpm ?? 0,
    tokens_per_day: input.tokens_per_day ?? 0,
    max_parallel: input.max_parallel ?? 0,
    allow_model_management: input.allow_model_management ?? false,
    expiresInMs: input.expires === undefined ? null : expiry(input.expires),
  });
  return { key, ...info };
}

export function revokeKey(ctx: DaemonContext, name: string): void {
  if (!gateway(ctx).revokeKey(name)) throw new HttpError("not_found", `no key named "${name}"`);
}
