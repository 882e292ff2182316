// README, `dashboard`: "the token itself never reaches the browser or its history". The API token is full control of
// the daemon until it is rotated; a session is not. Swept against a real daemon: everything a browser holding a
// dashboard session can read (every GET route of the OpenAPI document, the page and its assets, /ws) carries no token.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { TEST_DAEMON_TOML, apiToken, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";

let fake: FakeOllama;
let d: DaemonProc;
let token: string;

beforeAll(async () => {
  fake = await startFakeOllama({});
  d = await startDaemon({ config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n`, waitFor: ["api", "broker"] });
  token = await apiToken(d);
}, 30_000);

afterAll(async () => {
  await d?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
});

test("a browser with a dashboard session reads no API token: not in the sign-in's redirect or cookie, any GET route, the page, its assets or /ws", async () => {
  const api = d.urls.api!;
  const { path } = (await (await fetch(`${api}/api/v1/dashboard/code`, { method: "POST", headers: { authorization: `Bearer ${token}` } })).json()) as { path: string };
  const signIn = await fetch(`${api}${path}`, { redirect: "manual" });
  const where: string[] = [];
  if ([...signIn.headers].join("\n").includes(token) || (await signIn.text()).includes(token)) where.push(`GET ${path}`);
  const cookie = signIn.headers.get("set-cookie")!.split(";")[0]!;
  // Traffic, so that the inspector, usage and events have something to show.
  const chat = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream: false }) });
  expect(chat.status).toBe(200);
  await chat.text();
  const spec = (await (await fetch(`${api}/swagger/json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const paths = ["/", "/swagger", "/swagger/json", "/api/v1/config/export?include_secrets=true"];
  for (const [p, ops] of Object.entries(spec.paths)) if (ops.get && !p.includes("{") && p !== "/ws") paths.push(p);
  const page = await (await fetch(`${api}/`, { headers: { cookie } })).text();
  for (const m of page.matchAll(/(?:src|href)="(\/[^"]+)"/g)) paths.push(m[1]!);
  let read = 0;
  for (const p of new Set(paths)) {
    const r = await fetch(`${api}${p}`, { headers: { cookie } });
    const text = await r.text();
    if (r.status === 200) read++;
    if (text.includes(token) || [...r.headers].join("\n").includes(token)) where.push(`GET ${p}`);
  }
  // The session reads the cookie routes (the config, the inspector, usage), not only the public ones.
  expect(read).toBeGreaterThan(20);
  const messages: string[] = [];
  const ws = new WebSocket(`${api.replace("http", "ws")}/ws`, { headers: { cookie, origin: api } } as unknown as string[]);
  ws.onmessage = (e) => void messages.push(String(e.data));
  await until(() => messages.some((m) => m.includes('"metrics.tick"')), 10_000);
  ws.close();
  if (messages.join("\n").includes(token)) where.push("/ws");
  expect(where).toEqual([]);
}, 30_000);
