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

test("the credentials people paste with - and _ or in hex are inline secrets too, and names of words stay names", () => {
  // `relay hash-token --generate` (base64url: three in four hold - or _), Groq, xAI, Google, `openssl rand -hex 32`, Perplexity.
  for (const v of [
    "qHmj4FSdQ1BCA6mZ4lm-hzxtyDVAE9V54S1C38JnlNM",
    "f-H6cOUE7F-jdVsERqHxuWRNwAJVgnO1Khp9sIA1e5k",
    "GkwnKVJDOZ_-_jEsYMnuE19M64LRpbpo7oDkA-_Qr74",
    "gsk_aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ3aB5cD7eF9gH1jK3mN5pQ",
    "xai-9aH3kLm2Pq8RsT4uVw6XyZ1bC5dE7fG9hJ0kL2mN4pQ6rS8tU0vW2xY4zA6bC8dE0",
    "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "3f9a0c1e8b7d4a2f6e5c9b1a3f9a0c1e8b7d4a2f6e5c9b1a3f9a0c1e8b7d4a2f",
    "pplx-4f2a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d",
    // Drawn by the relay with one digit only (one token in 200 is): it was taken for a name and quoted in the fix.
    "TwtAIBoUcWcC-oe0D-ckXTkJC_ghbpipyIbOjOeEaAI",
    "kXqBvLmNzRtYwHpJsDfGcVbE-aUoIeKyTrWqPlMnZxC",
  ])
    expect([v, isInlineSecret(v)]).toEqual([v, true]);
  for (const name of [
    "upstream-openai-production-key-2",
    "Upstream-OpenAI-Key-2024-Production",
    "AzureOpenAI-EastUS2-Deployment-GPT4o-Key",
    "anthropic_claude_3_5_sonnet_api_key",
    "home-lab-ollama-server-02-token",
    "2024-12-07-relay-token-for-laptop",
  ])
    expect([name, isInlineSecret(name)]).toEqual([name, false]);
  // Whatever token the relay draws, the desktop takes it as one (about 7 in 10,000 are read as a name; 48 before).
  const missed = Array.from({ length: 10_000 }, () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")).filter((t) => !isInlineSecret(t));
  expect(missed.length).toBeLessThan(25);
});
