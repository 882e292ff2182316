// Inline secrets in the config: recognised, still usable through the store, and warned about.
import { expect, test } from "bun:test";
import { inlineSecretFields, isInlineSecret, secretSetAdvice } from "../config/inline-secrets.ts";
import { openSecretStore } from "./open-secret-store.ts";
import { defaultConfig } from "../config/load.ts";

test("names are references; credentials pasted into the config are inline secrets", () => {
  for (const name of ["tunnel-token", "openai.key", "my_api_key", "auth-session", "a"]) expect(isInlineSecret(name)).toBe(false);
  expect(isInlineSecret("")).toBe(false);
  for (const v of [
    "sk-proj-AbCdEf0123456789",
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
    "Bearer abc",
    "abc/def+ghi=",
    "Q2xvdWRUb0xvY2FsTExNMTIzNDU2Nzg5MGFi",
    "x".repeat(129),
  ])
    expect(isInlineSecret(v)).toBe(true);
});

test("the store returns an inline value as is and warns, naming the field, without the value", async () => {
  const config = defaultConfig();
  config.secrets.backend = "file";
  config.tunnel.token_secret = "sk-live-0123456789abcdef";
  config.upstreams = [{ ...config.upstreams[0]!, auth_secret: "openai-key" }];
  expect(inlineSecretFields(config)).toEqual(["tunnel.token_secret"]);
  const store = await openSecretStore(config, { env: {}, file: "/nonexistent/secrets.json" });
  expect(await store.get("sk-live-0123456789abcdef")).toBe("sk-live-0123456789abcdef");
  expect(store.warning).toContain("tunnel.token_secret");
  expect(store.warning).not.toContain("sk-live");
  config.tunnel.token_secret = "tunnel-token";
  store.checkConfig(config);
  expect(store.warning).toBeNull();
});

test("the `secret set` advice quotes a name, never a pasted credential (it names the field and a name to store it under)", () => {
  expect(secretSetAdvice("tunnel-token", "[tunnel] token_secret", "tunnel-token")).toBe("`cloudtolocalllm-tunnel secret set tunnel-token`");
  expect(secretSetAdvice("my-relay", "[tunnel] token_secret", "tunnel-token")).toBe("`cloudtolocalllm-tunnel secret set my-relay`");
  for (const pasted of ["sk-live-0123456789abcdef", "Bearer abc", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"]) {
    const advice = secretSetAdvice(pasted, "[tunnel] token_secret", "tunnel-token");
    expect(advice).not.toContain(pasted);
    expect(advice).toBe('`cloudtolocalllm-tunnel secret set tunnel-token` and set [tunnel] token_secret = "tunnel-token" (it holds the credential itself now)');
  }
});
