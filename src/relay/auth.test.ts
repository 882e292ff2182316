// Unit tests for how the relay reads a cloud client's credential: a bearer token, else x-api-key.
import { expect, test } from "bun:test";
import { clientCredential, hashToken, RelayAuth } from "./auth.ts";
import { parseRelayConfig } from "./config.ts";

const req = (h: Record<string, string>) => new Request("http://relay/t/a/v1/messages", { headers: h });

test("a bearer token wins; x-api-key is read only when no Authorization header is sent", () => {
  expect(clientCredential(req({ authorization: "Bearer relay-key", "x-api-key": "c2l_gateway" }))).toEqual({ token: "relay-key", header: "authorization" });
  expect(clientCredential(req({ "x-api-key": " relay-key " }))).toEqual({ token: "relay-key", header: "x-api-key" });
  // An Authorization that is not a bearer token is not made up for by x-api-key: one credential, in one place.
  expect(clientCredential(req({ authorization: "Basic eDp5", "x-api-key": "relay-key" }))).toBeNull();
  expect(clientCredential(req({ "x-api-key": "two words" }))).toBeNull();
  expect(clientCredential(req({}))).toBeNull();
});

test("two Authorization headers, or another scheme, are named as such, not as a missing token", async () => {
  const r = parseRelayConfig(`[[tunnels]]\nid = "home"\nagent_token_sha256 = "${hashToken("agent-token-0123456789")}"\nclient_key_sha256 = ["${hashToken("client-key-0123456789")}"]\n`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const auth = new RelayAuth(r.config);
  const two = new Request("http://relay/t/home/api/tags", { headers: new Headers([["authorization", "Bearer client-key-0123456789"], ["authorization", "Bearer other"]]) });
  expect(await auth.client(two, "home")).toEqual({ ok: false, reason: expect.stringContaining("is not one Bearer token") });
  expect(await auth.agent(new Request("http://relay/agent", { headers: { authorization: "Basic eDp5" } }))).toEqual({ ok: false, reason: expect.stringContaining("is not one Bearer token") });
  expect(await auth.client(new Request("http://relay/t/home/api/tags"), "home")).toEqual({ ok: false, reason: expect.stringMatching(/^missing Authorization: Bearer/) });
});
