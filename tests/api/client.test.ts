// The one API client against the real app (app.handle as its fetch): typed replies, ApiError with the stable code, and
// the CLI, the tray and the dashboard page all built on it.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createApp, type ApiApp } from "../../src/api/app.ts";
import { ApiClient, ApiError, type KnownPath, type ReplyOf } from "../../src/client/api-client.ts";
import { importGraph } from "../../scripts/import-graph.ts";
import { REPO } from "../helpers/daemon.ts";
import { StubBroker, StubTunnel, TOKEN, testEnv, upstream, type TestEnv } from "./stubs.ts";

const BASE = "http://127.0.0.1:8765";
let env: TestEnv;
let app: ApiApp;

beforeEach(() => {
  env = testEnv(`[api]\nlisten = "127.0.0.1:0"\n\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:11434"\n`);
  env.daemon.services.broker = new StubBroker([upstream("local", "up", ["llama3.2:1b"])]);
  env.daemon.services.tunnel = new StubTunnel();
  app = createApp(env.daemon.ctx, { token: () => TOKEN, docs: false });
});
afterEach(() => env.cleanup());

const viaApp = (token: string | null, extra: Partial<ConstructorParameters<typeof ApiClient>[0]> = {}) =>
  new ApiClient({ base: BASE, token: () => token, fetch: ((url: string, init: RequestInit) => app.handle(new Request(url, init))) as typeof fetch, ...extra });

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error("the call did not fail");
}

test("a typed call returns the route's 200 body", async () => {
  const status = await viaApp(TOKEN).call("GET", "/api/v1/status");
  // The reply's type is the app's: these fields exist at compile time, and at run time.
  expect(status.upstreams.map((u) => u.name)).toEqual(["local"]);
  expect(typeof status.daemon.pid).toBe("number");
  const tunnel = await viaApp(TOKEN).call("GET", "/api/v1/tunnel");
  expect(typeof tunnel.state).toBe("string");
});

test("errors carry the status, the stable code and the API's message; 401 reaches onUnauthorized", async () => {
  const seen: string[] = [];
  const e = await failure(viaApp(null, { onUnauthorized: (x) => seen.push(x.code) }).call("GET", "/api/v1/config"));
  expect({ status: e.status, code: e.code, unreachable: e.unreachable }).toEqual({ status: 401, code: "unauthorized", unreachable: false });
  expect(e.message.length).toBeGreaterThan(5);
  expect(seen).toEqual(["unauthorized"]);

  const missing = await failure(viaApp(TOKEN).call("GET", "/api/v1/upstreams/nope"));
  expect({ status: missing.status, code: missing.code }).toEqual({ status: 404, code: "not_found" });
  expect(missing.message).toContain("nope");
});

test("a rejected config edit gives validation_failed with the field issues, line and column", async () => {
  const e = await failure(viaApp(TOKEN).send("PUT", "/api/v1/config", { text: "[api]\nlisten = \n" }));
  expect({ status: e.status, code: e.code }).toEqual({ status: 422, code: "validation_failed" });
  expect(e.issues.length).toBeGreaterThan(0);
  expect(e.issues[0]!.line).toBe(2);
  // The file on disk is untouched.
  expect(readFileSync(env.file, "utf8")).toContain('listen = "127.0.0.1:0"');
});

test("`accept` answers a listed error status with its body instead of throwing", async () => {
  const r = await viaApp(null).reply("GET", "/api/v1/config", { accept: [401] });
  expect(r.status).toBe(401);
  expect((r.body as { error: { code: string } }).error.code).toBe("unauthorized");
});

test("nothing listening is code unreachable with status 0, the cause kept", async () => {
  const e = await failure(new ApiClient({ base: "http://127.0.0.1:9", timeoutMs: 5000 }).call("GET", "/api/v1/status"));
  expect({ status: e.status, code: e.code, unreachable: e.unreachable }).toEqual({ status: 0, code: "unreachable", unreachable: true });
  expect(e.message).toContain("http://127.0.0.1:9");
  expect(e.cause).toBeInstanceOf(Error);
});

test("paths and replies are typed from the app (checked by tsc, asserted here so the types cannot silently widen)", () => {
  // A route the app has keeps its path; one it lacks becomes a message type. tsc fails on a wrong assignment.
  const known: KnownPath<"POST", "/api/v1/tunnel/restart"> = "/api/v1/tunnel/restart";
  const unknown: KnownPath<"POST", "/api/v1/tunnel/explode"> = "no POST route /api/v1/tunnel/explode in the control API";
  type Status = ReplyOf<"GET", "/api/v1/status">;
  const pid: Status["daemon"]["pid"] = 1;
  expect([known, unknown, pid]).toEqual(["/api/v1/tunnel/restart", "no POST route /api/v1/tunnel/explode in the control API", 1]);
});

test("the CLI, the tray and the dashboard page all call the API through src/client/api-client.ts, and nothing else fetches it", () => {
  const g = importGraph();
  const importsClient = (f: string) => (g.get(f) ?? []).some((e) => e.to === "src/client/api-client.ts");
  expect(importsClient("src/cli/daemon-api.ts")).toBe(true);
  expect(importsClient("tray/main.ts") && importsClient("tray/daemon-link.ts")).toBe(true);
  expect(importsClient("src/dashboard-page/api.ts")).toBe(true);
  // No second client: outside the client, no source file fetches a control API path.
  const fetchers = [...g.keys()].filter((f) => {
    if (f.startsWith("src/client/")) return false;
    const text = readFileSync(join(REPO, f), "utf8");
    return /fetch\([^)]*\/api\/v1|fetch\(\s*this\.opts\.apiBase|\/api\/v1[^"'`]*["'`][^\n]*\bfetch\(/.test(text);
  });
  expect(fetchers).toEqual([]);
});
