import { expect, test } from "bun:test";
import { clientHeaders, clientHeadersOf } from "./headers.ts";

test("an upstream's answer headers named in its Connection header are hop-by-hop: neither client path passes them on", () => {
  const flat = ["content-type", "application/json", "connection", "X-Upstream-Secret, keep-alive", "x-upstream-secret", "s3cr3t", "x-kept", "yes"];
  const viaClient = clientHeadersOf(flat);
  expect([...viaClient.keys()]).toEqual(["content-type", "x-kept"]);
  const viaFetch = clientHeaders(new Headers([["content-type", "application/json"], ["connection", "x-upstream-secret"], ["x-upstream-secret", "s3cr3t"], ["x-kept", "yes"]]));
  expect([...viaFetch.keys()]).toEqual(["content-type", "x-kept"]);
  // Two Connection lines count together.
  expect([...clientHeadersOf(["connection", "keep-alive", "connection", "x-a", "x-a", "1", "x-b", "2"]).keys()]).toEqual(["x-b"]);
  // The usual answer: nothing else dropped.
  expect([...clientHeadersOf(["connection", "keep-alive", "x-b", "2", "date", "now"]).keys()]).toEqual(["x-b"]);
});
