// The generated config checks and defaults.ts answer as TypeBox does, for both schemas, on valid and invalid configs alike.
import { expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import type { TSchema } from "@sinclair/typebox";
import { applyDefaults } from "./defaults.ts";
import { ConfigSchema } from "./schema.ts";
import { checkConfig, CONFIG_SCHEMA } from "./config-check.generated.ts";
import { RelayConfigSchema } from "../relay/config-schema.ts";
import { checkRelayConfig, RELAY_CONFIG_SCHEMA } from "../relay/relay-config-check.generated.ts";
import { render, TARGETS } from "../../scripts/gen-config-check.ts";

/** Parsed configs (as smol-toml gives them): empty, partial, complete, and wrong in every way a file can be. */
const DAEMON_INPUTS: unknown[] = [
  {},
  { api: {} },
  { api: { listen: "127.0.0.1:1", lisen: 1 } },
  { api: [1, 2] },
  { api: "x" },
  { api: null },
  { proxy: { enabled: false, listen: "0.0.0.0:11435", require_key: "always", queue_timeout: "1.5s" } },
  { proxy: { require_key: "sometimes", max_attempts: 0, queue_timeout: "soon" } },
  { upstreams: [] },
  { upstreams: {} },
  { upstreams: { name: "a" } },
  { upstreams: "http://x" },
  { upstreams: [{ name: "a", url: "http://127.0.0.1:1" }, { name: "b", url: "https://h", kind: "vllm", priority: 3, connect_timeout: "1s" }] },
  { upstreams: [{ url: "http://x" }, { name: "", url: "ftp://x", kind: "nope", max_parallel: -1 }, 5, null, [1]] },
  { aliases: [{ name: "gpt", model: "llama" }, { name: "x" }] },
  { tunnel: { enabled: true, relay_url: "wss://r/agent", backoff: { initial: "2s" }, heartbeat: {} } },
  { tunnel: { backoff: 3, heartbeat: [], allowed_paths: ["/a"], max_streams: 1.5 } },
  { tunnel: { allowed_paths: "all", relay_url: "https://r" } },
  { quality: { critical_error_rate: 2, good_latency_ms: "fast" }, metrics: { window: "5 minutes" } },
  { alerts: { quality_level: "good", cooldown: "1h" }, logging: { level: "trace" }, auth: { scopes: [], flow: "pkce" } },
  { secrets: { backend: "file" }, dashboard: { inspector_size: 10001 }, tray: { enabled: "never" }, extra: { a: 1 } },
  { health: { interval: "1.25m", failures_before_down: 1 }, unknown: 1 },
  { auth: { issuer: "not a url", scopes: "openid" } },
];

const RELAY_INPUTS: unknown[] = [
  {},
  { listen: "0.0.0.0:443", tls: { cert_file: "c", key_file: "k" } },
  { listen: "nowhere", agent_path: "agent", admin_token_sha256: "abc" },
  { tunnels: [{ id: "t1", agent_token_sha256: "a".repeat(64) }, { id: "-bad", client_key_sha256: ["x"] }, 3] },
  { tunnels: { id: "t" } },
  { tunnels: [{ id: "t", agent_token_sha256: undefined, extra: 1 }] },
  { limits: { max_streams: 0, max_body_bytes: 1.5 }, heartbeat: { interval: "1s", tolerance: "2s" } },
  { oidc: { issuer: "https://i", audience: "a", jwks_cooldown: "x" }, cors: { allowed_origins: "https://a" } },
  { cluster: { redis_url: "redis://r", node_id: "n 1", lease_ttl: "10s" }, heartbeat: null },
  { tls: [], limits: "none", unknown: {} },
];

const CASES: [string, TSchema, TSchema, (v: unknown) => boolean, unknown[]][] = [
  ["daemon", ConfigSchema, CONFIG_SCHEMA, checkConfig, DAEMON_INPUTS],
  ["relay", RelayConfigSchema, RELAY_CONFIG_SCHEMA, checkRelayConfig, RELAY_INPUTS],
];

for (const [name, typebox, plain, check, inputs] of CASES) {
  test(`${name}: applyDefaults fills in what Value.Default does, and the generated check agrees with Value.Check`, () => {
    let valid = 0;
    for (const raw of inputs) {
      const ours = applyDefaults(plain, structuredClone(raw));
      const theirs = Value.Default(typebox, structuredClone(raw));
      expect({ raw, defaulted: ours }).toStrictEqual({ raw, defaulted: theirs });
      expect({ raw, valid: check(ours) }).toEqual({ raw, valid: Value.Check(typebox, theirs) });
      if (check(ours)) valid++;
    }
    // Both kinds were tried: some inputs pass, most fail.
    expect(valid).toBeGreaterThan(1);
    expect(valid).toBeLessThan(inputs.length - 3);
  });
}

test("the generated checks are what scripts/gen-config-check.ts makes from today's schemas (run it after changing a schema)", async () => {
  for (const t of TARGETS) expect({ file: t.file, text: await Bun.file(`${import.meta.dir}/../../${t.file}`).text() }).toEqual({ file: t.file, text: render(t) });
});
