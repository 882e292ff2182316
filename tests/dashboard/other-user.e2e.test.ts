// Another local user who reads a one-time dashboard link from the process list (xdg-open's and the browser's argv are
// world-readable in /proc) gets no session from it, cannot burn it, and cannot raise access requests; nor can one who got
// the session cookie itself (browsers send it to every port of this host) use it: a real daemon, and curl run as uid
// 65534 with setpriv.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { ROOT, curlAsNobody } from "../helpers/other-user.ts";
import { TEST_DAEMON_TOML, apiToken, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["setpriv", "curl", ROOT]);

let daemon: DaemonProc;
let api: string;
let token: string;

async function mintCode(): Promise<string> {
  const r = await fetch(`${api}/api/v1/dashboard/code`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
  expect(r.status).toBe(200);
  const { path } = (await r.json()) as { path: string };
  return path;
}

beforeAll(async () => {
  daemon = await startDaemon({ config: `${TEST_DAEMON_TOML}[alerts]\nnotifications = false\n`, waitFor: ["api"] });
  api = daemon.urls.api!;
  token = await apiToken(daemon);
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  if (daemon) removeHome(daemon.home);
});

describe("the dashboard answers only its own user's browsers", () => {
  test("a one-time link fetched by another local user: 403, no cookie, and the owner's browser still gets in with it", async () => {
    const path = await mintCode();
    const stolen = curlAsNobody(`${api}${path}`);
    expect(stolen.status).toBe(403);
    expect(stolen.headers).not.toContain("set-cookie");
    // The refusal spent nothing: the link still works once for the daemon's own user.
    const mine = await fetch(`${api}${path}`, { redirect: "manual" });
    expect(mine.status).toBe(303);
    expect(mine.headers.get("set-cookie")).toContain("c2l_session=");
    // ... and only once.
    expect((await fetch(`${api}${path}`, { redirect: "manual" })).status).toBe(401);
  });

  test("another local user cannot ask for access (the owner would see a code to approve) nor wait on a request", async () => {
    const asked = curlAsNobody(`${api}/auth/request`, "-X", "POST", "-H", `origin: ${api}`, "-H", "sec-fetch-site: same-origin");
    expect(asked.status).toBe(403);
    expect(asked.headers).not.toContain("set-cookie");
    const waiting = await fetch(`${api}/api/v1/dashboard/requests`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await waiting.json()) as { requests: unknown[] }).requests).toEqual([]);
    expect(curlAsNobody(`${api}/auth/wait`).status).toBe(403);
    // The owner's own browser may still ask.
    const own = await fetch(`${api}/auth/request`, { method: "POST", headers: { origin: api, "sec-fetch-site": "same-origin" }, redirect: "manual" });
    expect(own.status).toBe(303);
  });

  test("what other users may still read is unchanged: the public health check answers them", () => {
    expect(curlAsNobody(`${api}/healthz`).status).toBe(200);
  });

  test("a session cookie another local user got (the browser sends it to every port of this host, theirs too) opens nothing for them; the owner keeps it", async () => {
    const got = await fetch(`${api}${await mintCode()}`, { redirect: "manual" });
    const cookie = got.headers.get("set-cookie")!.split(";")[0]!;
    const owner = await fetch(`${api}/`, { headers: { cookie } });
    const csrf = /name="csrf-token" content="([^"]+)"/.exec(await owner.text())?.[1];
    expect(csrf).toBeTruthy();
    const as = (path: string, ...args: string[]) => curlAsNobody(`${api}${path}`, "-H", `cookie: ${cookie}`, ...args);
    // The pages it would read the CSRF token from give none; the API refuses the cookie for reads, changes and /ws.
    expect(as("/").body).not.toContain(csrf!);
    expect(as("/swagger").body).toContain('<meta name="csrf-token" content="">');
    expect(as("/api/v1/config").status).toBe(401);
    expect(as("/api/v1/requests").status).toBe(401);
    const change = as("/api/v1/keys", "-X", "POST", "-H", `origin: ${api}`, "-H", `x-csrf-token: ${csrf}`, "-H", "content-type: application/json", "-d", '{"name":"stolen"}');
    expect({ status: change.status, body: change.body }).toEqual({ status: 401, body: expect.stringContaining("only from the daemon's own user") });
    const ws = as("/ws", "-H", "connection: Upgrade", "-H", "upgrade: websocket", "-H", "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==", "-H", "sec-websocket-version: 13", "--max-time", "3");
    expect(ws.status).toBe(401);
    // The owner's browser goes on with the same cookie.
    expect((await fetch(`${api}/api/v1/dashboard/session`, { headers: { cookie } })).status).toBe(200);
    const keys = await fetch(`${api}/api/v1/keys`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await keys.json()) as { name: string }[]).map((k) => k.name)).not.toContain("stolen");
  });
});
