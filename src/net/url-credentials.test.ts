import { expect, test } from "bun:test";
import { urlCredentialSecrets } from "./url-credentials.ts";

test("a URL's password is a secret as written, decoded, and as the Basic token made of user and password; the user name beside it is not", () => {
  expect(urlCredentialSecrets("https://op:p%40ss-1234@host/v1")).toEqual(["p%40ss-1234", "p@ss-1234", btoa("op:p@ss-1234")]);
});

test("a user name standing alone is a token; a URL without userinfo, or no URL, has no secret", () => {
  expect(urlCredentialSecrets("https://tok-abcdef@host")).toEqual(["tok-abcdef", btoa("tok-abcdef:")]);
  expect(urlCredentialSecrets("http://127.0.0.1:11434")).toEqual([]);
  expect(urlCredentialSecrets("not a url")).toEqual([]);
});
