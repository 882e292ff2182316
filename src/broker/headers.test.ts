// What the broker passes back from an upstream's answer: no hop-by-hop header (those its Connection header names too),
// nothing that acts on the broker's whole host in a browser.
import { expect, test } from "bun:test";
import { ORIGIN_WIDE_HEADERS } from "../net/origin-wide-headers.ts";
import { clientHeaders, clientHeadersOf, upstreamHeaderLines, upstreamHeaders } from "./headers.ts";
import type { Upstream } from "./upstream.ts";

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

const WIDE: [string, string][] = [
  ["clear-site-data", '"cookies"'],
  ["strict-transport-security", "max-age=0"],
  ["nel", '{"report_to":"x","max_age":1}'],
  ["report-to", '{"group":"x","max_age":1,"endpoints":[{"url":"https://collector.invalid/"}]}'],
  ["alt-svc", 'h2="collector.invalid:443"'],
  ["set-cookie", "a=1"],
];

test("an upstream's Clear-Site-Data, HSTS, NEL, Report-To, Alt-Svc and Set-Cookie never reach the client; its own headers do", () => {
  const own: [string, string][] = [["content-type", "application/x-ndjson"], ["x-own", "kept"]];
  for (const out of [clientHeaders(new Headers([...own, ...WIDE])), clientHeadersOf([...own, ...WIDE].flat())]) {
    expect([...out]).toEqual(own);
  }
  for (const name of ORIGIN_WIDE_HEADERS) expect(clientHeaders(new Headers([[name, "x"]])).has(name)).toBe(false);
});

test("an upstream's own credential header (a custom auth_header) carries the operator's secret only: a client's line of that name is not sent before it", () => {
  const u = { name: "remote", authValue: "operator-secret", config: { auth_header: "X-Gateway-Key" } } as unknown as Upstream;
  const client = new Headers([["x-gateway-key", "client-chosen"], ["x-other", "1"]]);
  const lines = upstreamHeaderLines(client, u).split("\r\n").filter((l) => /^x-gateway-key:/i.test(l));
  expect(lines).toEqual(["X-Gateway-Key: operator-secret"]);
  expect(upstreamHeaders(client, u).get("x-gateway-key")).toBe("operator-secret");
  // Without a secret of its own, the upstream gets the client's header as before.
  const bare = { name: "open", authValue: null, config: { auth_header: "X-Gateway-Key" } } as unknown as Upstream;
  expect(upstreamHeaderLines(client, bare)).toContain("x-gateway-key: client-chosen\r\n");
});

test("a client's Google key (x-goog-api-key) is a credential meant for the broker: never sent upstream, with or without the operator's", () => {
  const client = new Headers([["x-goog-api-key", "client-chosen"], ["x-other", "1"]]);
  const own = { name: "remote", authValue: "operator-secret", config: { auth_header: "X-Goog-Api-Key" } } as unknown as Upstream;
  expect(upstreamHeaderLines(client, own).split("\r\n").filter((l) => /^x-goog-api-key:/i.test(l))).toEqual(["X-Goog-Api-Key: operator-secret"]);
  const bare = { name: "open", authValue: null, config: { auth_header: "Authorization" } } as unknown as Upstream;
  expect(upstreamHeaderLines(client, bare)).not.toContain("client-chosen");
  expect(upstreamHeaders(client, bare).get("x-goog-api-key")).toBeNull();
  expect(upstreamHeaders(client, bare).get("x-other")).toBe("1");
});

test("an upstream's own CORS grant (Access-Control-Allow-Origin: *, credentials) never reaches the client: which pages may read is the broker's decision", () => {
  const cors: [string, string][] = [
    ["access-control-allow-origin", "*"],
    ["access-control-allow-credentials", "true"],
    ["access-control-allow-headers", "*"],
    ["access-control-allow-methods", "*"],
    ["access-control-allow-private-network", "true"],
    ["access-control-expose-headers", "*"],
    ["access-control-max-age", "86400"],
  ];
  const own: [string, string][] = [["content-type", "application/json"]];
  for (const out of [clientHeaders(new Headers([...own, ...cors])), clientHeadersOf([...own, ...cors].flat())]) expect([...out]).toEqual(own);
});

test("our own x-c2l-* request headers (a relay's hop and resume marks, the replay mark) never reach an upstream, by either client path; other x- headers do", () => {
  const u = { name: "a", authValue: null, config: { auth_header: "Authorization" } } as unknown as Upstream;
  const client = new Headers([
    ["x-c2l-relay-node", "east-1"], ["x-c2l-relay-client", "203.0.113.9"], ["x-c2l-entry-resumes", "1"], ["X-C2L-Resume", "sig"],
    ["x-c2l-replay-of", "42"], ["x-c2l-anything-new", "v"], ["x-request-id", "r1"], ["content-type", "application/json"],
  ]);
  const lines = upstreamHeaderLines(client, u);
  expect(lines).not.toContain("x-c2l-");
  expect(lines).toContain("x-request-id: r1\r\n");
  expect(lines).toContain("content-type: application/json\r\n");
  const viaFetch = upstreamHeaders(client, u);
  expect([...viaFetch.keys()].filter((k) => k.startsWith("x-c2l-"))).toEqual([]);
  expect(viaFetch.get("x-request-id")).toBe("r1");
});

test("a page's Origin and Referer never reach an upstream, on either client path: which page called is the broker's business", () => {
  const u = { name: "remote", authValue: null, config: {} } as unknown as Upstream;
  const client = new Headers([["origin", "http://localhost:3000"], ["referer", "http://localhost:3000/app?session=1"], ["content-type", "application/json"]]);
  const sent = upstreamHeaders(client, u);
  expect([sent.get("content-type"), sent.has("origin"), sent.has("referer")]).toEqual(["application/json", false, false]);
  const lines = upstreamHeaderLines(client, u).toLowerCase();
  expect(lines).toContain("content-type: application/json");
  expect(lines).not.toContain("referer");
  expect(lines).not.toContain("origin");
});
