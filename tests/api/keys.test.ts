// /api/v1/keys through the app and the one client: create shows the key once, list and show never do, revoke, the
// errors by code; the keys file is the one the CLI edits.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createApp, type ApiApp } from "../../src/api/app.ts";
import { ApiClient, ApiError } from "../../src/client/api-client.ts";
import { createGatewayComponent } from "../../src/gateway/component.ts";
import { TOKEN, testEnv, type TestEnv } from "./stubs.ts";

let env: TestEnv;
let app: ApiApp;
let client: ApiClient;
let file: string;

beforeEach(async () => {
  env = testEnv(`[api]\nlisten = "127.0.0.1:0"\n`);
  file = join(env.dir, "keys.json");
  await createGatewayComponent(file)(env.daemon.ctx).start();
  app = createApp(env.daemon.ctx, { token: () => TOKEN, docs: false });
  client = new ApiClient({ base: "http://127.0.0.1:8765", token: () => TOKEN, fetch: ((u: string, i: RequestInit) => app.handle(new Request(u, i))) as typeof fetch });
});
afterEach(() => env.cleanup());

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    return e as ApiError;
  }
  throw new Error("succeeded");
}

test("create answers the key once; list, show and the file hold only its record and hash", async () => {
  const r = await client.reply("POST", "/api/v1/keys", { json: { name: "editor", models: ["llama3*"], rpm: 30, expires: "30d" } });
  expect(r.status).toBe(201);
  const made = r.body as { key: string; name: string; models: string[]; rpm: number; expires_at: string | null };
  expect(made.key).toMatch(/^c2l_/);
  expect(made).toMatchObject({ name: "editor", models: ["llama3*"], rpm: 30 });
  expect(Date.parse(made.expires_at!) - Date.now()).toBeGreaterThan(29 * 86_400_000);
  const list = await client.call("GET", "/api/v1/keys");
  expect(list.map((k) => k.name)).toEqual(["editor"]);
  expect(JSON.stringify(list)).not.toContain(made.key.slice(8));
  expect(JSON.stringify(await client.call("GET", "/api/v1/keys/editor"))).not.toContain("hash");
  expect(readFileSync(file, "utf8")).not.toContain(made.key);
  // The daemon's admission knows it at once.
  expect(env.daemon.ctx.services.gateway!.admit(new Headers({ "x-api-key": made.key }), { source: "local", ip: "10.0.0.2" }).key?.name).toBe("editor");
});

test("errors by code: 409 for a taken name, 422 for a bad one or a bad lifetime, 404 for an unknown key, 401 without the token", async () => {
  await client.call("POST", "/api/v1/keys", { json: { name: "a" } });
  expect((await failure(client.call("POST", "/api/v1/keys", { json: { name: "a" } }))).code).toBe("conflict");
  expect((await failure(client.call("POST", "/api/v1/keys", { json: { name: "no spaces" } }))).code).toBe("validation_failed");
  expect((await failure(client.call("POST", "/api/v1/keys", { json: { name: "b", expires: "forever" } }))).code).toBe("validation_failed");
  expect((await failure(client.call("GET", "/api/v1/keys/nope"))).code).toBe("not_found");
  expect((await failure(client.call("DELETE", "/api/v1/keys/nope"))).code).toBe("not_found");
  const anon = new ApiClient({ base: "http://127.0.0.1:8765", fetch: client.opts.fetch });
  expect((await failure(anon.call("GET", "/api/v1/keys"))).status).toBe(401);
  expect((await client.reply("DELETE", "/api/v1/keys/a")).status).toBe(204);
  expect(await client.call("GET", "/api/v1/keys")).toEqual([]);
});

test("a keys file that does not parse refuses create and revoke with 409 conflict naming the file (not a 500)", async () => {
  await client.call("POST", "/api/v1/keys", { json: { name: "a" } });
  writeFileSync(file, "{ not json");
  for (const p of [client.call("POST", "/api/v1/keys", { json: { name: "b" } }), client.call("DELETE", "/api/v1/keys/a")]) {
    const e = await failure(p);
    expect({ status: e.status, code: e.code }).toEqual({ status: 409, code: "conflict" });
    expect(e.message).toContain(`the keys file ${file} is not valid JSON`);
  }
});

test("model management is a permission of the key: off unless create asks for it, shown in the record", async () => {
  const plain = (await client.reply("POST", "/api/v1/keys", { json: { name: "plain" } })).body as { allow_model_management?: boolean };
  expect(plain.allow_model_management).toBe(false);
  const ops = (await client.reply("POST", "/api/v1/keys", { json: { name: "ops", models: ["llama3*"], allow_model_management: true } })).body as { key: string; allow_model_management?: boolean };
  expect(ops.allow_model_management).toBe(true);
  expect((await client.call("GET", "/api/v1/keys/ops")).allow_model_management).toBe(true);
  const gw = env.daemon.ctx.services.gateway!;
  const admitted = gw.admit(new Headers({ "x-api-key": ops.key }), { source: "local", ip: "10.0.0.2" });
  expect(() => gw.authorize(admitted, "llama3.2:1b", undefined, { path: "/api/pull", others: [], opaque: null, complete: true, cut: null, encoding: null })).not.toThrow();
  // The client's types refuse it too (the json is typed from the route's schema); the server's check is what is tested.
  // @ts-expect-error allow_model_management is a boolean
  expect((await failure(client.call("POST", "/api/v1/keys", { json: { name: "c", allow_model_management: "yes" } }))).code).toBe("validation_failed");
});
