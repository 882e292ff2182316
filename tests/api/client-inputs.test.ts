// The API client's inputs typed from the app's route schemas, as hono's hc<App> types them: `json` from the body
// schema, `query` from the query schema, `params` fill a route pattern's segments (tsc checks the @ts-expect-error
// lines); and at run time, params and query go over real HTTP to the real app, encoded.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { createApp } from "../../src/api/app.ts";
import { ApiClient, ApiError, withInputs } from "../../src/client/api-client.ts";
import { createGatewayComponent } from "../../src/gateway/component.ts";
import { requestRecord } from "../helpers/request-record.ts";
import { TOKEN, testEnv, type TestEnv } from "./stubs.ts";

let env: TestEnv;
let server: ReturnType<typeof Bun.serve>;
let client: ApiClient;

beforeEach(async () => {
  env = testEnv(`[api]\nlisten = "127.0.0.1:0"\n`);
  await createGatewayComponent(`${env.dir}/keys.json`, `${env.dir}/usage.json`)(env.daemon.ctx).start();
  const app = createApp(env.daemon.ctx, { token: () => TOKEN, docs: false });
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (r) => app.handle(r) });
  client = new ApiClient({ base: `http://127.0.0.1:${server.port}`, token: () => TOKEN, timeoutMs: 10_000 });
});
afterEach(() => {
  server.stop(true);
  env.cleanup();
});

// ---- Type level: never called; tsc (part of the test command) fails when an @ts-expect-error line is not an error.
export async function typeChecks(c: ApiClient) {
  // The body schema types `json`, and the 201 reply types the answer.
  const made = await c.call("POST", "/api/v1/keys", { json: { name: "editor", rpm: 30, models: ["llama3*"] } });
  const key: string = made.key;
  // @ts-expect-error a field the schema does not have
  await c.call("POST", "/api/v1/keys", { json: { name: "editor", rmp: 30 } });
  // @ts-expect-error a field of the wrong type
  await c.call("POST", "/api/v1/keys", { json: { name: "editor", rpm: "30" } });
  // @ts-expect-error a required field missing
  await c.call("POST", "/api/v1/keys", { json: { rpm: 30 } });
  // @ts-expect-error no body where the route requires one
  await c.call("POST", "/api/v1/keys");
  // @ts-expect-error a body on a route that takes none
  await c.call("GET", "/api/v1/keys", { json: { name: "x" } });

  // A route pattern takes its params, typed from the route; its reply is the route's.
  const one = await c.call("GET", "/api/v1/keys/:name", { params: { name: "editor" } });
  const prefix: string = one.prefix;
  // @ts-expect-error the pattern's param missing
  await c.call("GET", "/api/v1/keys/:name");
  // @ts-expect-error a param the route does not have
  await c.call("DELETE", "/api/v1/keys/:name", { params: { nam: "editor" } });
  // @ts-expect-error params on a concrete path (nothing to fill)
  await c.call("GET", "/api/v1/keys/editor", { params: { name: "editor" } });

  // The query schema types `query`.
  const usage = await c.call("GET", "/api/v1/usage", { query: { since: "2026-12-01", model: "llama3" } });
  const requests: number = usage.totals.requests;
  // @ts-expect-error a query field the route does not have
  await c.call("GET", "/api/v1/usage", { query: { sinse: "2026-12-01" } });
  // @ts-expect-error a query on a route without one
  await c.call("GET", "/api/v1/keys", { query: { since: "2026-12-01" } });
  return [key, prefix, requests];
}

test("params fill a route pattern, URL-encoded, over real HTTP", async () => {
  await client.call("POST", "/api/v1/keys", { json: { name: "editor.v2", rpm: 30 } });
  const one = await client.call("GET", "/api/v1/keys/:name", { params: { name: "editor.v2" } });
  expect({ name: one.name, rpm: one.rpm }).toEqual({ name: "editor.v2", rpm: 30 });
  // A value with a slash stays one segment: the route sees it (and its schema refuses it), not a path of its own.
  let e: unknown;
  await client.call("GET", "/api/v1/keys/:name", { params: { name: "a/b c" } }).catch((x) => (e = x));
  expect(e).toBeInstanceOf(ApiError);
  expect({ status: (e as ApiError).status, code: (e as ApiError).code }).toEqual({ status: 422, code: "validation_failed" });
  expect((e as ApiError).issues.map((i) => i.path)).toEqual(["params.name"]);
  expect((await client.reply("DELETE", "/api/v1/keys/:name", { params: { name: "editor.v2" } })).status).toBe(204);
  expect(await client.call("GET", "/api/v1/keys")).toEqual([]);
});

test("query values reach the route's query schema, URL-encoded, over real HTTP", async () => {
  const odd = "team/llama3:8b&since=1999-01-01 +q";
  env.daemon.ctx.events.emit("request.completed", requestRecord({ model: odd, promptTokens: 5, completionTokens: 7 }));
  env.daemon.ctx.events.emit("request.completed", requestRecord({ model: "qwen2.5:7b", promptTokens: 1, completionTokens: 1 }));
  const today = new Date().toISOString().slice(0, 10);
  const r = await client.call("GET", "/api/v1/usage", { query: { model: odd, since: today } });
  expect(r.rows.map((row) => [row.model, row.prompt_tokens, row.completion_tokens])).toEqual([[odd, 5, 7]]);
  expect(r.totals.requests).toBe(1);
  // The schema checks what arrived: a bad `since` is refused naming the query field.
  const bad = await client.call("GET", "/api/v1/usage", { query: { since: "yesterday" } }).catch((x: ApiError) => x);
  expect(bad).toBeInstanceOf(ApiError);
  expect({ status: (bad as ApiError).status, code: (bad as ApiError).code, path: (bad as ApiError).issues[0]?.path }).toEqual({
    status: 422,
    code: "validation_failed",
    path: "query.since",
  });
});

test("withInputs: segments filled and encoded, undefined query values left out, arrays repeated, a missing param named", () => {
  expect(withInputs("/api/v1/keys/:name", { params: { name: "a b/c" } })).toBe("/api/v1/keys/a%20b%2Fc");
  expect(withInputs("/x", { query: { a: "1&2", b: undefined, c: [1, true] } })).toBe("/x?a=1%262&c=1&c=true");
  expect(withInputs("/x?y=1", { query: { z: 2 } })).toBe("/x?y=1&z=2");
  expect(withInputs("/x?t=/:y", {})).toBe("/x?t=/:y");
  expect(() => withInputs("/api/v1/keys/:name", {})).toThrow('no value for the path parameter "name"');
});
