// Another local user who reads a one-time dashboard link from the process list (xdg-open's and the browser's argv are
// world-readable in /proc) gets no session from it, cannot burn it, and cannot raise access requests: a real daemon,
// and curl run as uid 65534 with setpriv.
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
});
