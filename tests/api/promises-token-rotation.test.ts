// Rotating the control API's token (delete the file, SIGHUP) through a real daemon: what the old token bought ends with
// it — its live-event socket, a socket opened with a dashboard session it minted, and that session itself.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { apiToken, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { until } from "../helpers/until.ts";

let d: DaemonProc;
let api: string;
let port: number;

beforeAll(async () => {
  d = await startDaemon({ config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nenabled = false\n[secrets]\nbackend = "file"\n` });
  api = d.urls.api!;
  port = Number(new URL(api).port);
}, 30_000);

afterAll(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
});

/** A /ws client that records whether (and how) the daemon closed it. */
async function openWs(headers: Record<string, string>) {
  const ws = new WebSocket(api.replace("http", "ws") + "/ws", { headers } as any);
  const state = { snapshot: false, closed: null as { code: number; reason: string } | null };
  ws.onmessage = (e) => {
    if ((JSON.parse(String(e.data)) as { type: string }).type === "snapshot") state.snapshot = true;
  };
  ws.onclose = (e) => (state.closed = { code: e.code, reason: e.reason });
  await new Promise<void>((res, rej) => {
    ws.onopen = () => res();
    ws.onerror = () => rej(new Error("websocket failed"));
  });
  await until(() => state.snapshot, 5000, "the snapshot");
  return { ws, state };
}

test("after the token is rotated, the old token, a dashboard session it minted and the /ws sockets opened with either no longer work", async () => {
  const old = await apiToken(d);
  const bearer = { authorization: `Bearer ${old}` };
  // What someone holding the old token sets up: a live-event socket, and a dashboard session (cookie and CSRF token).
  const byToken = await openWs(bearer);
  const code = JSON.parse((await rawRequest(port, "POST", "/api/v1/dashboard/code", { headers: bearer })).body).code as string;
  const auth = await rawRequest(port, "GET", `/auth?code=${encodeURIComponent(code)}`);
  expect(auth.status).toBe(303);
  const cookie = auth.headers["set-cookie"]!.split(";")[0]!;
  expect((await rawRequest(port, "GET", "/api/v1/config", { headers: { cookie } })).status).toBe(200);
  const bySession = await openWs({ cookie, origin: api });
  // A second code minted but not spent yet.
  const spare = JSON.parse((await rawRequest(port, "POST", "/api/v1/dashboard/code", { headers: bearer })).body).code as string;

  // Rotation as docs/api.md says: delete the token file and reload the daemon.
  rmSync(join(d.home, ".config/cloudtolocalllm/api-token"));
  d.proc.kill("SIGHUP");
  await until(async () => (await rawRequest(port, "GET", "/api/v1/config", { headers: bearer })).status === 401, 5000, "the old token to be refused");
  const fresh = await apiToken(d);
  expect(fresh).not.toBe(old);
  expect((await rawRequest(port, "GET", "/api/v1/config", { headers: { authorization: `Bearer ${fresh}` } })).status).toBe(200);

  // What the old token bought ends with it.
  await until(() => byToken.state.closed !== null && bySession.state.closed !== null, 3000, "the sockets opened with the old token and its session to be closed").catch(() => {});
  expect({ byToken: byToken.state.closed?.code ?? "still open", bySession: bySession.state.closed?.code ?? "still open" }).toEqual({ byToken: 1008, bySession: 1008 });
  const withCookie = await rawRequest(port, "GET", "/api/v1/config", { headers: { cookie } });
  expect(withCookie.status).toBe(401);
  expect(withCookie.body).not.toContain("token_file");
  expect((await rawRequest(port, "GET", `/auth?code=${encodeURIComponent(spare)}`)).status).toBe(401);
  // The new token still opens a socket.
  const again = await openWs({ authorization: `Bearer ${fresh}` });
  expect(again.state.closed).toBeNull();
  again.ws.close();
});
