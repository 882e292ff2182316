// Ask for access and Replay through app.handle: who may approve (the token only), one-time codes, and what a replay sends.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp, type ApiApp } from "../../src/api/app.ts";
import { createInspectorComponent } from "../../src/inspector/component.ts";
import type { BrokerService } from "../../src/core/contracts.ts";
import { AUTH, StubBroker, TOKEN, testEnv, type TestEnv } from "../api/stubs.ts";
import { requestRecord as record } from "../helpers/request-record.ts";

const BASE = "http://127.0.0.1:8765";
let env: TestEnv;
let app: ApiApp;
const notified: string[] = [];
const events: { code: string; state: string }[] = [];
const sent: { method: string; url: string; headers: Record<string, string>; body: string; source: string; peer: string | null | undefined }[] = [];

async function call(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const res = await app.handle(new Request(BASE + path, { method, headers: { host: "127.0.0.1:8765", ...headers }, body }));
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

const cookieOf = (setCookie: string | null, name: string) => setCookie?.split(/,(?=\s*\w+=)/).map((c) => c.trim().split(";")[0]!).find((c) => c.startsWith(`${name}=`)) ?? "";

beforeAll(async () => {
  env = testEnv("[dashboard]\ninspector_size = 10\ncapture_bodies = true\nbody_cap = 64\n");
  const broker = new StubBroker([]) as unknown as BrokerService;
  broker.handle = async (req, source, peer) => {
    sent.push({ method: req.method, url: req.url, headers: Object.fromEntries(req.headers), body: await req.text(), source, peer });
    return new Response('{"done":true}', { status: 200 });
  };
  env.daemon.ctx.services.broker = broker;
  env.daemon.ctx.events.on("dashboard.access", (e) => void events.push(e.data));
  env.daemon.ctx.services.alerts = { active: () => [], notify: (n) => void notified.push(n.body) };
  await createInspectorComponent(env.daemon.ctx).start();
  app = createApp(env.daemon.ctx, { token: () => TOKEN, docs: false });
});
afterAll(() => env.cleanup());

describe("Ask for access (issue 24 item 9)", () => {
  test("the bare page offers it; the asking browser waits with its code, gets in once approved with the token, and only once", async () => {
    const bare = await call("GET", "/");
    expect(bare.text).toContain('<form method="post" action="/auth/request">');
    expect(bare.text).not.toContain("<script");

    const asked = await call("POST", "/auth/request", { origin: BASE, "sec-fetch-site": "same-origin" });
    expect(asked.status).toBe(303);
    expect(asked.headers.get("location")).toBe("/auth/wait");
    expect(asked.headers.get("set-cookie")).toMatch(/^c2l_access=[\w-]{40,}; HttpOnly; SameSite=Strict; Path=\/auth; Max-Age=12\d/);
    const access = cookieOf(asked.headers.get("set-cookie"), "c2l_access");
    const waiting = await call("GET", "/auth/wait", { cookie: access });
    expect(waiting.status).toBe(202);
    const code = /id="access-code">([A-Z0-9-]+)</.exec(waiting.text)![1]!;
    expect(waiting.text).toContain(`dashboard approve ${code}`);
    expect(waiting.text).toContain('http-equiv="refresh"');
    // /ws (the tray) hears of it with the code; the public event ring does not keep it.
    expect(events.map((e) => `${e.state} ${e.code}`)).toEqual([`requested ${code}`]);
    expect(env.daemon.ctx.events.recent().some((e) => e.type === "dashboard.access")).toBe(false);
    // The owner's desktop is told, with the same code and the command that approves it.
    expect(notified).toEqual([`A browser on this machine asks for the dashboard and shows code ${code}. If it is yours, approve: cloudtolocalllm-tunnel dashboard approve ${code}`]);

    // The list and the approval take the token; nothing else approves.
    expect((await call("GET", "/api/v1/dashboard/requests", AUTH)).json.requests.map((r: { code: string }) => r.code)).toEqual([code]);
    const json = { "content-type": "application/json" };
    expect((await call("POST", "/api/v1/dashboard/approve", json, JSON.stringify({ code }))).status).toBe(401);
    const guessed = await call("POST", "/api/v1/dashboard/approve", { ...AUTH, ...json }, JSON.stringify({ code: "ZZZZ-2222" }));
    expect(guessed.status).toBe(404);
    expect(guessed.json.error.code).toBe("not_found");
    // Without the request's secret the code gets nothing, approved or not.
    expect((await call("GET", "/auth/wait")).status).toBe(401);
    expect((await call("GET", "/auth/wait", { cookie: `c2l_access=${code}` })).status).toBe(401);

    expect((await call("POST", "/api/v1/dashboard/approve", { ...AUTH, ...json }, JSON.stringify({ code }))).json).toEqual({ approved: true });
    expect(events.map((e) => `${e.state} ${e.code}`)).toEqual([`requested ${code}`, `approved ${code}`]);
    const inside = await call("GET", "/auth/wait", { cookie: access });
    expect(inside.status).toBe(303);
    expect(inside.headers.get("location")).toBe("/");
    const session = cookieOf(inside.headers.get("set-cookie"), "c2l_session");
    expect(session).toMatch(/^c2l_session=[\w-]+$/);
    expect(inside.headers.get("set-cookie")).toContain("c2l_access=; HttpOnly; SameSite=Strict; Path=/auth; Max-Age=0");
    expect((await call("GET", "/", { cookie: session })).status).toBe(200);
    // Once: the same secret again is refused, and so is the same code.
    expect((await call("GET", "/auth/wait", { cookie: access })).status).toBe(401);
    expect((await call("POST", "/api/v1/dashboard/approve", { ...AUTH, ...json }, JSON.stringify({ code }))).status).toBe(404);

    // A dashboard session cannot approve other browsers (or mint codes): the token only.
    const other = await call("POST", "/auth/request", { origin: BASE });
    const otherCode = /id="access-code">([A-Z0-9-]+)</.exec((await call("GET", "/auth/wait", { cookie: cookieOf(other.headers.get("set-cookie"), "c2l_access") })).text)![1]!;
    const page = await call("GET", "/", { cookie: session });
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.text)![1]!;
    const viaSession = await call("POST", "/api/v1/dashboard/approve", { cookie: session, "x-csrf-token": csrf, origin: BASE, ...json }, JSON.stringify({ code: otherCode }));
    expect(viaSession.status).toBe(401);
  });

  test("only the page's own origin may ask", async () => {
    expect((await call("POST", "/auth/request")).status).toBe(403);
    expect((await call("POST", "/auth/request", { origin: BASE, "sec-fetch-site": "same-site" })).status).toBe(403);
    expect((await call("POST", "/auth/request", { origin: "http://127.0.0.1:9999" })).status).toBe(403);
  });
});

describe("Replay (issue 24 item 10)", () => {
  test("sends the kept request again: same method, path, body and non-secret headers, as a local caller, marked", async () => {
    const body = '{"model":"llama3","stream":false}';
    const r = record({
      bytesIn: body.length,
      requestBody: body,
      requestHeaders: { host: "127.0.0.1:11435", authorization: "[redacted]", "content-type": "application/json", "x-trace-id": "t-1", "content-length": String(body.length) },
    });
    env.daemon.ctx.events.emit("request.completed", r);
    expect((await call("POST", `/api/v1/requests/${r.id}/replay`)).status).toBe(401);
    const res = await call("POST", `/api/v1/requests/${r.id}/replay`, AUTH);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ replayOf: r.id, status: 200, bytes: 13 });
    const got = sent.at(-1)!;
    expect({ method: got.method, path: new URL(got.url).pathname, body: got.body, source: got.source, peer: got.peer }).toEqual({
      method: "POST",
      path: "/api/chat",
      body,
      source: "local",
      peer: "127.0.0.1",
    });
    expect(got.headers["x-trace-id"]).toBe("t-1");
    expect(got.headers["x-c2l-replay-of"]).toBe(r.id);
    expect(got.headers.authorization).toBeUndefined();
    expect(JSON.stringify(got.headers)).not.toContain("[redacted]");
  });

  test("replays what the broker passed on, not more nor less: a DELETE's body (Ollama's /api/delete names its model there) is sent again, and headers the original's Connection named (hop-by-hop, never forwarded upstream) are not", async () => {
    const body = '{"model":"llama3"}';
    const r = record({
      method: "DELETE",
      path: "/api/delete",
      bytesIn: body.length,
      requestBody: body,
      requestHeaders: { host: "127.0.0.1:11435", connection: "keep-alive, X-Hop", "x-hop": "this connection only", "x-kept": "k", "content-length": String(body.length) },
    });
    env.daemon.ctx.events.emit("request.completed", r);
    const res = await call("POST", `/api/v1/requests/${r.id}/replay`, AUTH);
    expect(res.status).toBe(200);
    const got = sent.at(-1)!;
    expect({ method: got.method, path: new URL(got.url).pathname, body: got.body, hop: got.headers["x-hop"] ?? null, kept: got.headers["x-kept"] }).toEqual({ method: "DELETE", path: "/api/delete", body, hop: null, kept: "k" });
  });

  test("refused for an unknown id (404) and a body not kept whole (409); nothing is sent", async () => {
    const before = sent.length;
    expect((await call("POST", "/api/v1/requests/nope/replay", AUTH)).status).toBe(404);
    const cut = record({ bytesIn: 500, requestBody: "x".repeat(64), requestBodyTruncated: true });
    const notKept = record({ bytesIn: 500 });
    env.daemon.ctx.events.emit("request.completed", cut);
    env.daemon.ctx.events.emit("request.completed", notKept);
    const a = await call("POST", `/api/v1/requests/${cut.id}/replay`, AUTH);
    expect(a.status).toBe(409);
    expect(a.json.error.message).toContain("body_cap");
    const b = await call("POST", `/api/v1/requests/${notKept.id}/replay`, AUTH);
    expect(b.status).toBe(409);
    expect(b.json.error.message).toContain("capture_bodies");
    expect(sent.length).toBe(before);
  });
});
