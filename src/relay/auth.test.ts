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

test("an empty Bearer token (curl's `Bearer $CLIENT_KEY` with the variable unset) is named as empty, not as another scheme", async () => {
  const r = parseRelayConfig(`[[tunnels]]\nid = "home"\nagent_token_sha256 = "${hashToken("agent-token-0123456789")}"\nclient_key_sha256 = ["${hashToken("client-key-0123456789")}"]\n`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const auth = new RelayAuth(r.config);
  for (const authorization of ["Bearer ", "Bearer", "bearer   "]) {
    const res = await auth.client(new Request("http://relay/t/home/api/tags", { headers: { authorization } }), "home");
    expect(res).toEqual({ ok: false, reason: expect.stringMatching(/^the Authorization header's Bearer token is empty \(is the variable that should hold it set in this shell\?\): send Authorization: Bearer/) });
  }
  expect(await auth.agent(new Request("http://relay/agent", { headers: { authorization: "Bearer " } }))).toEqual({ ok: false, reason: expect.stringContaining("Bearer token is empty") });
});

test("a client key opens only its own tunnel, and neither kind of credential stands in for the other", async () => {
  const h = hashToken;
  const r = parseRelayConfig(
    `[[tunnels]]\nid = "alice"\nagent_token_sha256 = "${h("alice-agent-0123456789")}"\nclient_key_sha256 = ["${h("alice-client-0123456789")}"]\n` +
      `[[tunnels]]\nid = "bob"\nagent_token_sha256 = "${h("bob-agent-0123456789")}"\nclient_key_sha256 = ["${h("bob-client-0123456789")}"]\n`,
  );
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const auth = new RelayAuth(r.config);
  const as = (token: string, path = "/t/bob/api/tags") => new Request(`http://relay${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(await auth.client(as("bob-client-0123456789"), "bob")).toMatchObject({ ok: true, tunnelId: "bob" });
  // Alice's key is a valid key of this relay, but not of Bob's tunnel: the relay must not find it in any tunnel's list.
  expect(await auth.client(as("alice-client-0123456789"), "bob")).toEqual({ ok: false, reason: "unknown client key for this tunnel" });
  expect(await auth.client(new Request("http://relay/t/bob/api/tags", { headers: { "x-api-key": "alice-client-0123456789" } }), "bob")).toEqual({ ok: false, reason: "unknown client key for this tunnel" });
  // A tunnel's agent token is no client key (of its own tunnel either), and a client key is no agent token.
  expect(await auth.client(as("bob-agent-0123456789"), "bob")).toEqual({ ok: false, reason: "unknown client key for this tunnel" });
  expect(await auth.agent(as("bob-client-0123456789", "/agent"))).toEqual({ ok: false, reason: "unknown agent token" });
  expect(await auth.agent(as("alice-agent-0123456789", "/agent"))).toMatchObject({ ok: true, tunnelId: "alice" });
});
