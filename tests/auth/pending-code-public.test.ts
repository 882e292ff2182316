// docs/auth.md: while a device sign-in waits, its user code is a credential (whoever enters it first signs the daemon in
// with their own account). Every route the OpenAPI document declares public, in the spellings and filters a caller may
// use, says at most that a sign-in is pending; the code and its link go only to a caller with the API token.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { AUDIENCE, CLIENT_ID, startProvider, type TestProvider } from "./oidc-provider.ts";
import { apiToken, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { until } from "../helpers/until.ts";

setDefaultTimeout(60_000);

let p: TestProvider;
let d: DaemonProc;
let port: number;
let token: string;

beforeAll(async () => {
  p = await startProvider({ accessTokenTtlSec: 60 });
  d = await startDaemon({
    config: `[api]
listen = "127.0.0.1:0"
[proxy]
listen = "127.0.0.1:0"
[secrets]
backend = "file"
[alerts]
notifications = false
[auth]
issuer = "${p.issuer}"
client_id = "${CLIENT_ID}"
audience = "${AUDIENCE}"
scopes = ["openid", "offline_access"]
`,
  });
  port = Number(new URL(d.urls.api!).port);
  token = await apiToken(d);
});
afterAll(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
  await p?.close();
});

test("a pending device sign-in's user code and link are in no answer of a public route (any spelling, events filtered by type or seq); the token holder gets them", async () => {
  const auth = { authorization: `Bearer ${token}` };
  const started = await rawRequest(port, "POST", "/api/v1/auth/login", { headers: auth });
  expect(started.status).toBe(202);
  const { userCode, verificationUriComplete } = JSON.parse(started.body) as { userCode: string; verificationUriComplete: string };
  expect(userCode).toMatch(/\w{4}/);
  // The daemon's own view has it (the events ring included) before the public reads are tried.
  await until(async () => (await rawRequest(port, "GET", "/api/v1/events?type=auth.", { headers: auth })).body.includes(userCode), 10_000, "the code in the token holder's events");

  const doc = JSON.parse((await rawRequest(port, "GET", "/swagger/json")).body) as { security: unknown[]; paths: Record<string, Record<string, { security?: unknown[] }>> };
  const open = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method, op]) => method === "get" && (op.security ?? doc.security).length === 0)
      .map(([, op]) => path.replace(/\{(\w+)\}/g, "x")),
  );
  expect(open).toEqual(expect.arrayContaining(["/api/v1/auth", "/api/v1/events", "/api/v1/status", "/api/v1/tunnel", "/metrics", "/healthz"]));
  const targets = [...open.flatMap((path) => [path, `${path}/`, `${path}?a=1`]), "/api/v1/events?type=auth.", "/api/v1/events?type=auth.progress", "/api/v1/events?since=0", "/api/v1/events?limit=1000"];
  const forms = [userCode, userCode.replace(/-/g, ""), encodeURIComponent(userCode), verificationUriComplete, encodeURIComponent(verificationUriComplete)];
  const leaks: string[] = [];
  for (const target of targets) {
    const r = await rawRequest(port, "GET", target);
    if (forms.some((f) => r.raw.includes(f))) leaks.push(`${target} (${r.status})`);
  }
  expect(leaks).toEqual([]);
  // What the public reads do say: a sign-in is pending.
  expect(JSON.parse((await rawRequest(port, "GET", "/api/v1/auth")).body)).toMatchObject({ state: "signed_out", pending: null, pendingSignIn: true });
  expect(JSON.parse((await rawRequest(port, "GET", "/api/v1/auth", { headers: auth })).body).pending.userCode).toBe(userCode);
});
