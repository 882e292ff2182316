// A "[redacted]" sent back where and as GET showed it stands for the real secret; anywhere else it stays for PUT to refuse.
import { expect, test } from "bun:test";
import { keepUnchangedSecrets } from "./unchanged-secrets.ts";

const current = {
  tunnel: { relay_url: "wss://relay.example/agent?token=s3cret" },
  upstreams: [
    { name: "a", url: "http://u:pa@h1", auth_secret: "sk-inline-aaaaaaaaaaaaaaaaaaaaaaaa" },
    { name: "b", url: "http://u:pb@h1" },
  ],
};

test("values left as shown get their secret back; plain values and edits are untouched", () => {
  const sent = {
    tunnel: { relay_url: "wss://relay.example/agent?token=redacted" },
    upstreams: [
      { name: "a", url: "http://u:redacted@h1", auth_secret: "[redacted]" },
      { name: "b", url: "http://u:new@h1" },
    ],
  };
  expect(keepUnchangedSecrets(sent, current)).toEqual({
    tunnel: { relay_url: "wss://relay.example/agent?token=s3cret" },
    upstreams: [
      { name: "a", url: "http://u:pa@h1", auth_secret: "sk-inline-aaaaaaaaaaaaaaaaaaaaaaaa" },
      { name: "b", url: "http://u:new@h1" },
    ],
  });
});

test("a [redacted] moved to another host, another key or another entry keeps reading [redacted]", () => {
  const sent = {
    tunnel: { relay_url: "wss://evil.example/agent?token=redacted" },
    // "a" removed: "b" is now first, and its redacted URL reads as "a"'s did; it must not get "a"'s password.
    upstreams: [{ name: "b", url: "http://u:redacted@h1", auth_secret: "[redacted]" }],
  };
  expect(keepUnchangedSecrets(sent, current)).toEqual(sent);
});
