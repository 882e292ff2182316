// A client of the 1.x tunnel manager's REST API (port 8765, kept by the migration) calling a real daemon: each old route gets a 404 naming the route that replaced it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";

let d: DaemonProc;
beforeAll(async () => {
  d = await startDaemon({ config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\n` });
}, 30_000);
afterAll(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
});

test("the 1.x routes (any method, as 1.x ignored it) get a 404 in the API's shape naming their replacement; other paths a plain 404", async () => {
  const api = d.urls.api!;
  for (const [method, path, now] of [
    ["GET", "/api/health", "GET /healthz"],
    ["GET", "/api/status", "GET /api/v1/status"],
    ["GET", "/api/connections", "GET /api/v1/upstreams and GET /api/v1/tunnel"],
    ["GET", "/api/metrics", "GET /api/v1/metrics (JSON) or GET /metrics (Prometheus)"],
    ["GET", "/api/version", "GET /api/v1/version"],
    ["POST", "/api/tunnel/start", "POST /api/v1/tunnel/start"],
    ["GET", "/api/tunnel/restart", "POST /api/v1/tunnel/restart"],
  ]) {
    const r = await fetch(api + path, { method });
    expect(r.status).toBe(404);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("not_found");
    expect(body.error.message).toBe(`no route ${method} ${path}; ${path} was the 1.x tunnel manager's API, which this version replaced: use ${now} (docs/api.md)`);
  }
  const other = (await (await fetch(`${api}/api/nothing`)).json()) as { error: { message: string } };
  expect(other.error.message).toBe("no route GET /api/nothing");
  expect((await fetch(`${api}/healthz`)).status).toBe(200);
}, 30_000);

test("an old route is no way around the new API's rules: a foreign Host (DNS rebinding) or the 1.x cloud's Origin is refused, never the 1.x `Access-Control-Allow-Origin: *`", async () => {
  const api = d.urls.api!;
  const port = new URL(api).port;
  for (const path of ["/api/status", "/api/tunnel/start", "/api/health"]) {
    for (const [what, headers] of [
      ["rebinding Host", { host: `rebind.example:${port}` }],
      ["1.x cloud Origin", { origin: "https://app.cloudtolocalllm.online" }],
      ["any Origin", { origin: "http://localhost:3000" }],
    ] as const) {
      const r = await fetch(api + path, { method: path.includes("tunnel") ? "POST" : "GET", headers });
      expect({ path, what, status: r.status }).toEqual({ path, what, status: 403 });
      expect(r.headers.get("access-control-allow-origin")).toBeNull();
      // The refusal says why (Host/Origin), not which route replaced the old one: the hint is for allowed callers.
      expect(await r.text()).not.toContain("1.x tunnel manager");
    }
  }
  // The CORS preflight a 1.x web page would send is not granted either.
  const pre = await fetch(`${api}/api/status`, { method: "OPTIONS", headers: { origin: "https://app.cloudtolocalllm.online", "access-control-request-method": "GET" } });
  expect(pre.headers.get("access-control-allow-origin")).toBeNull();
}, 30_000);
