// Redaction for export and display: a secret pasted inline into a *_secret field is hidden; a secret name is not.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REDACTED, redactSecrets } from "./redact.ts";
import { ConfigStore } from "./store.ts";

const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz";
const API_KEY = "sk-proj-Abc123Def456Ghi789";

test("inline secrets in token_secret and auth_secret are redacted; secret names are kept", () => {
  const config = {
    tunnel: { token_secret: JWT, relay_url: "wss://relay.example/agent" },
    upstreams: [
      { name: "cloud", auth_secret: API_KEY },
      { name: "named", auth_secret: "openai-key" },
      { name: "none", auth_secret: "" },
    ],
  };
  const { value, redacted } = redactSecrets(config);
  expect(value.tunnel.token_secret).toBe(REDACTED);
  expect(value.upstreams.map((u) => u.auth_secret)).toEqual([REDACTED, "openai-key", ""]);
  expect(redacted).toEqual(["tunnel.token_secret", "upstreams[0].auth_secret"]);
  expect(redactSecrets({ tunnel: { token_secret: "tunnel-token" } }).redacted).toEqual([]);
  // A setting named like a key that holds a choice stays readable; a real key beside it does not.
  expect(redactSecrets({ proxy: { require_key: "always", api_key: "sk-live-0123456789abcdef" } }).value).toEqual({ proxy: { require_key: "always", api_key: REDACTED } });
  // Any field named key or *_key holds one (the rule is by name, for fields added later too).
  expect(redactSecrets({ a: { key: "k-0123456789", signing_key: "s-0123456789", keyboard: "us" } }).value).toEqual({ a: { key: REDACTED, signing_key: REDACTED, keyboard: "us" } });
  expect(config.tunnel.token_secret).toBe(JWT); // a copy, the live config is untouched
});

const dir = mkdtempSync(join(tmpdir(), "c2l-redact-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the config export hides an inline token_secret", () => {
  const file = join(dir, "tunnel.toml");
  writeFileSync(file, `[tunnel]\ntoken_secret = "${JWT}"\n[[upstreams]]\nname = "cloud"\nurl = "https://api.example"\nauth_secret = "${API_KEY}"\n`, { mode: 0o600 });
  const out = new ConfigStore(file).export();
  expect(out).not.toContain(JWT);
  expect(out).not.toContain(API_KEY);
  expect(out).toContain("redacted: tunnel.token_secret, upstreams[0].auth_secret");
});
