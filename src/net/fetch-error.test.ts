// Unit tests for the one sentence a connection failure becomes in logs, status and error bodies.
import { expect, test } from "bun:test";
import { describeFetchError } from "./fetch-error.ts";

test("the process out of file descriptors names its own limit, not a typo in the upstream's URL", () => {
  // What Bun reported for a health check of a daemon started under `ulimit -n 12`.
  const e = Object.assign(new Error("EMFILE: Was there a typo in the url or port?"), { code: "EMFILE" });
  expect(describeFetchError(e)).toBe("too many open files (EMFILE): the daemon is at its file limit (ulimit -n, systemd LimitNOFILE=), not the upstream");
  expect(describeFetchError(Object.assign(new Error("x"), { code: "ENFILE" }))).toContain("too many open files (ENFILE)");
});

test("the usual failures keep their short sentences", () => {
  expect(describeFetchError(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))).toBe("connection refused");
  expect(describeFetchError(new Error("Unable to connect. For more information, pass `verbose: true`"))).toBe("Unable to connect");
});

test("an https upstream's certificate that chains to no trusted CA names the setting that trusts it", () => {
  const e = Object.assign(new Error("self signed certificate"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" });
  expect(describeFetchError(e)).toBe("TLS certificate not trusted (self-signed): set the upstream's ca_file to the CA that signed it, or to the self-signed certificate");
});

test("Bun's `CODE fetching \"<url>\"` loses the URL (the upstream's address, path and query reach callers' error bodies)", () => {
  const url = "http://10.0.0.5:8000/gw-secret?token=qs-secret/api/chat";
  const notHttp = Object.assign(new Error(`Malformed_HTTP_Response fetching "${url}". For more information, pass \`verbose: true\` in the second argument to fetch()`), { code: "Malformed_HTTP_Response" });
  expect(describeFetchError(notHttp)).toBe("its answer is not HTTP (Malformed_HTTP_Response)");
  expect(describeFetchError(Object.assign(new Error(`InvalidHTTPResponse fetching "${url}"`), { code: "InvalidHTTPResponse" }))).toBe("its answer is not HTTP (InvalidHTTPResponse)");
  expect(describeFetchError(Object.assign(new Error(`UnsupportedRedirectProtocol fetching "${url}"`), { code: "UnsupportedRedirectProtocol" }))).toBe("UnsupportedRedirectProtocol");
  // Any other URL a message quotes goes too.
  expect(describeFetchError(new Error(`bad answer from ${url} (x)`))).toBe("bad answer from (the upstream's URL) (x)");
});
