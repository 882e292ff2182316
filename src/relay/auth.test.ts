// Unit tests for how the relay reads a cloud client's credential: a bearer token, else x-api-key.
import { expect, test } from "bun:test";
import { clientCredential } from "./auth.ts";

const req = (h: Record<string, string>) => new Request("http://relay/t/a/v1/messages", { headers: h });

test("a bearer token wins; x-api-key is read only when no Authorization header is sent", () => {
  expect(clientCredential(req({ authorization: "Bearer relay-key", "x-api-key": "c2l_gateway" }))).toEqual({ token: "relay-key", header: "authorization" });
  expect(clientCredential(req({ "x-api-key": " relay-key " }))).toEqual({ token: "relay-key", header: "x-api-key" });
  // An Authorization that is not a bearer token is not made up for by x-api-key: one credential, in one place.
  expect(clientCredential(req({ authorization: "Basic eDp5", "x-api-key": "relay-key" }))).toBeNull();
  expect(clientCredential(req({ "x-api-key": "two words" }))).toBeNull();
  expect(clientCredential(req({}))).toBeNull();
});
