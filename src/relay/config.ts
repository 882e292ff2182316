// The relay's own TOML config: parsing and validation with file:line:column messages (the schema is config-schema.ts; start-up checks it with the generated relay-config-check.generated.ts).
import type { Resolved } from "../config/schema.ts";
import { resolveBy } from "../config/resolve.ts";
import { applyDefaults } from "../config/defaults.ts";
import { formatIssue, parseTomlConfig, schemaIssuesOf, type ConfigIssue } from "../config/load.ts";
import { unknownKeys, type FieldIssue } from "../config/validate.ts";
import { durationFloorIssues } from "../config/duration-floors.ts";
import { entryWithin, originEntryProblem } from "./cors.ts";
import { httpsOrLoopback } from "./issuer-keys.ts";
import { redisUrlProblem } from "./cluster/redis-url.ts";
import type { RelayConfig, RelayConfigSchema } from "./config-schema.ts";
import { checkRelayConfig, RELAY_CONFIG_SCHEMA } from "./relay-config-check.generated.ts";

export type { RelayConfig } from "./config-schema.ts";

/** The TypeBox schema, loaded only to name what is wrong in an invalid file. */
const typeboxSchema = () => (require("./config-schema.ts") as typeof import("./config-schema.ts")).RelayConfigSchema;

/** The relay config with its durations in milliseconds (decoded once per loaded config). */
export function relayMs(c: RelayConfig): Resolved<typeof RelayConfigSchema> {
  return resolveBy(RELAY_CONFIG_SCHEMA, c);
}

export type RelayLoadResult = { ok: true; config: RelayConfig } | { ok: false; issues: ConfigIssue[] };

function semantic(c: RelayConfig): FieldIssue[] {
  const out: FieldIssue[] = [];
  if (!!c.tls.cert_file !== !!c.tls.key_file) out.push({ path: c.tls.cert_file ? "tls.key_file" : "tls.cert_file", message: "tls needs both cert_file and key_file" });
  if (relayMs(c).heartbeat.tolerance <= relayMs(c).heartbeat.interval)
    out.push({ path: "heartbeat.tolerance", message: `"${c.heartbeat.tolerance}" must be longer than heartbeat.interval ("${c.heartbeat.interval}")` });
  out.push(...durationFloorIssues(RELAY_CONFIG_SCHEMA, c));
  const idle = relayMs(c).limits.idle_timeout;
  // Bun counts it in whole seconds, at most 255.
  if (idle !== 0 && (idle < 1000 || idle > 255_000)) out.push({ path: "limits.idle_timeout", message: `"${c.limits.idle_timeout}" must be between 1s and 255s, or 0s for no limit` });
  if (c.oidc.chat_client_id && !c.oidc.issuer) out.push({ path: "oidc.chat_client_id", message: "the chat page's sign-in needs [oidc] issuer to be set" });
  if (c.oidc.issuer && !c.oidc.audience) out.push({ path: "oidc.audience", message: "an audience is required when oidc.issuer is set" });
  for (const k of ["issuer", "jwks_url"] as const)
    if (c.oidc[k] && !httpsOrLoopback(c.oidc[k])) out.push({ path: `oidc.${k}`, message: `"${c.oidc[k]}" must be an https URL (plain http is only accepted on loopback)` });
  if (c.cluster.redis_url) {
    const problem = redisUrlProblem(c.cluster.redis_url);
    if (problem) out.push({ path: "cluster.redis_url", message: problem });
    const tlsFiles = (["redis_ca_file", "redis_cert_file", "redis_key_file"] as const).filter((k) => c.cluster[k]);
    if (tlsFiles.length && !c.cluster.redis_url.startsWith("rediss://")) out.push({ path: `cluster.${tlsFiles[0]}`, message: "is only used with a TLS Redis URL (rediss://)" });
    if (!!c.cluster.redis_cert_file !== !!c.cluster.redis_key_file) out.push({ path: c.cluster.redis_cert_file ? "cluster.redis_key_file" : "cluster.redis_cert_file", message: "a Redis client certificate needs both redis_cert_file and redis_key_file" });
    if (!c.cluster.shared_secret_file) out.push({ path: "cluster.shared_secret_file", message: "a cluster needs a shared secret file (the same on every node) to sign node-to-node requests" });
    if (!c.cluster.advertise_url && /^(0\.0\.0\.0|\[::\]):/.test(c.cluster.internal_listen))
      out.push({ path: "cluster.advertise_url", message: `internal_listen "${c.cluster.internal_listen}" is a wildcard address: set advertise_url to the address other nodes reach this one at` });
    if (c.cluster.advertise_url && !/^https?:\/\/[^/]+\/?$/.test(c.cluster.advertise_url)) out.push({ path: "cluster.advertise_url", message: `"${c.cluster.advertise_url}" must be an http(s) URL with no path, e.g. http://10.0.0.5:8081` });
    if (relayMs(c).cluster.lease_ttl < 1000) out.push({ path: "cluster.lease_ttl", message: `"${c.cluster.lease_ttl}" is too short: at least 1s` });
  }
  c.cors.allowed_origins.forEach((o, i) => {
    const p = originEntryProblem(o);
    if (p) out.push({ path: `cors.allowed_origins[${i}]`, message: p });
  });
  const ids = new Map<string, number>();
  const tokens = new Map<string, number>();
  c.tunnels.forEach((t, i) => {
    if (ids.has(t.id)) out.push({ path: `tunnels[${i}].id`, message: `"${t.id}" is already the id of tunnels[${ids.get(t.id)}]` });
    ids.set(t.id, i);
    if (t.agent_token_sha256) {
      if (tokens.has(t.agent_token_sha256)) out.push({ path: `tunnels[${i}].agent_token_sha256`, message: `the same agent token is already used by tunnels[${tokens.get(t.agent_token_sha256)}] (each token maps to one tunnel)` });
      tokens.set(t.agent_token_sha256, i);
    }
    if (!t.agent_token_sha256 && !t.subject) out.push({ path: `tunnels[${i}]`, message: "a tunnel needs agent_token_sha256 or subject, or no agent can ever connect" });
    t.allowed_origins.forEach((o, j) => {
      const path = `tunnels[${i}].allowed_origins[${j}]`;
      const p = originEntryProblem(o);
      if (p) out.push({ path, message: p });
      // A tunnel narrows the relay's list, never widens it: a pattern here must sit inside a [cors] entry.
      else if (!c.cors.allowed_origins.some((g) => entryWithin(o, g)))
        out.push({ path, message: `"${o}" is not allowed by [cors] allowed_origins; a tunnel's list only narrows the relay's` });
    });
    if (t.subject && !c.oidc.issuer) out.push({ path: `tunnels[${i}].subject`, message: "subject needs [oidc] issuer to be set" });
  });
  out.push(...credentialRoleIssues(c));
  return out;
}

/**
 * One token in two roles makes the roles one: a client key that is also an agent token lets every cloud client holding
 * it connect as that tunnel's agent (and take its calls), one that is also the admin token lists every tunnel. The same
 * client key on several tunnels is one role (a web app for each of them), so it is allowed.
 */
function credentialRoleIssues(c: RelayConfig): FieldIssue[] {
  const roles = new Map<string, { role: string; what: string }>();
  const out: FieldIssue[] = [];
  const claim = (hash: string | undefined, role: string, what: string, path: string) => {
    if (!hash) return;
    const first = roles.get(hash);
    if (!first) return void roles.set(hash, { role, what });
    if (first.role === role) return;
    out.push({ path, message: `is the hash of ${first.what} too: one token in two roles lets whoever holds it act in both (a client key that is an agent token connects as that tunnel's agent and takes its calls); give each role its own token (\`relay hash-token --generate\`)` });
  };
  claim(c.admin_token_sha256, "admin", "the admin token", "admin_token_sha256");
  c.tunnels.forEach((t, i) => claim(t.agent_token_sha256, "agent", `tunnels[${i}]'s agent token`, `tunnels[${i}].agent_token_sha256`));
  c.tunnels.forEach((t, i) => t.client_key_sha256.forEach((k, j) => claim(k, "client", `a client key of tunnels[${i}]`, `tunnels[${i}].client_key_sha256[${j}]`)));
  return out;
}

/** Parses and validates relay config text; `file` is only used in messages. */
export function parseRelayConfig(text: string, file = "relay.toml"): RelayLoadResult {
  return parseTomlConfig(text, file, validateRelayConfig);
}

function validateRelayConfig(raw: unknown, file: string): RelayLoadResult {
  const withDefaults = applyDefaults(RELAY_CONFIG_SCHEMA, structuredClone(raw));
  let found = [...unknownKeys(raw, RELAY_CONFIG_SCHEMA), ...schemaIssuesOf(withDefaults, checkRelayConfig, typeboxSchema)];
  if (!found.length) found = semantic(withDefaults as RelayConfig);
  if (!found.length) return { ok: true, config: withDefaults as RelayConfig };
  return { ok: false, issues: found.map((f) => ({ file, ...f })) };
}

export { formatIssue };
