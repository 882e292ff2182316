// Unit tests for how the relay reads a cloud client's credential: a bearer token, else x-api-key; which header stays.
import { expect, test } from "bun:test";
import { clientCredential } from "./auth.ts";
import { CLIENT_ONLY, stayAtRelay } from "./forward.ts";

const req = (h: Record<string, string>) => new Request("http://relay/t/a/v1/messages", { headers: h });

test("a bearer token wins; x-api-key is read only when no Authorization header is sent", () => {
  expect(clientCredential(req({ authorization: "Bearer relay-key", "x-api-key": "c2l_gateway" }))).toEqual({ token: "relay-key", header: "authorization" });
  expect(clientCredential(req({ "x-api-key": " relay-key " }))).toEqual({ token: "relay-key", header: "x-api-key" });
  // An Authorization that is not a bearer token is not made up for by x-api-key: one credential, in one place.
  expect(clientCredential(req({ authorization: "Basic eDp5", "x-api-key": "relay-key" }))).toBeNull();
  expect(clientCredential(req({ "x-api-key": "two words" }))).toBeNull();
  expect(clientCredential(req({}))).toBeNull();
});

test("x-api-key stays at the relay only when it carried the relay's credential", () => {
  expect(stayAtRelay(req({ "x-api-key": "relay-key" }).headers)).toEqual([...CLIENT_ONLY, "x-api-key"]);
  expect(stayAtRelay(req({ authorization: "Bearer relay-key", "x-api-key": "c2l_gateway" }).headers)).toEqual(CLIENT_ONLY);
});
