// GET /api/v1/keys and GET /api/v1/usage a page at a time (`limit`, cursor `after`), through a real daemon and the typed client.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { ApiClient, ApiError } from "../../src/client/api-client.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, createKey, removeHome, startDaemon, untilCounted, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

setDefaultTimeout(30_000);

let fake: FakeOllama;
let d: DaemonProc;
let token: string;
let client: ApiClient;
const NAMES = ["delta", "alpha", "echo", "charlie", "bravo"];
const keys: Record<string, string> = {};

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["m:1b", "n:1b"] });
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n`,
    waitFor: ["api", "broker"],
  });
  token = await apiToken(d);
  client = new ApiClient({ base: d.urls.api!, token: () => token });
  for (const name of NAMES) keys[name] = createKey(d, name);
  await until(async () => (await fetch(`${d.urls.broker}/api/version`, { headers: { "x-api-key": keys.echo! } })).status === 200, 5000, "the daemon to see the keys");
  // Usage rows: one per key and model.
  for (const name of ["alpha", "bravo", "charlie"]) {
    for (const model of ["m:1b", "n:1b"]) {
      const r = await fetch(`${d.urls.broker}/api/generate`, { method: "POST", headers: { "x-api-key": keys[name]! }, body: JSON.stringify({ model, prompt: "hi", stream: false }) });
      expect(r.status).toBe(200);
      await r.text();
    }
    await untilCounted(d, token, name, 2);
  }
}, 60_000);
afterAll(async () => {
  await d?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
});

test("GET /api/v1/keys: by name, `limit` a page, `after` the last name of the page before; without them every key, as before", async () => {
  const all = await client.call("GET", "/api/v1/keys");
  expect(all.map((k) => k.name)).toEqual([...NAMES].sort());
  const seen: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await client.call("GET", "/api/v1/keys", { query: { limit: 2, after } });
    expect(page.length).toBeLessThanOrEqual(2);
    seen.push(...page.map((k) => k.name));
    if (page.length < 2) break;
    after = page.at(-1)!.name;
  }
  expect(seen).toEqual([...NAMES].sort());
  // A cursor names a place: a key made between two pages after it is on a later page, none repeats.
  const first = await client.call("GET", "/api/v1/keys", { query: { limit: 2 } });
  createKey(d, "beta");
  const second = await client.call("GET", "/api/v1/keys", { query: { limit: 2, after: first.at(-1)!.name } });
  expect([...first, ...second].map((k) => k.name)).toEqual(["alpha", "bravo", "charlie", "delta"]);
  const refused = await client.call("GET", "/api/v1/keys", { query: { limit: 0 } }).catch((e: ApiError) => e);
  expect(refused).toBeInstanceOf(ApiError);
  expect((refused as ApiError).status).toBe(422);
});

test("GET /api/v1/usage: `limit` rows a page, `next` the cursor for `after` (null on the last), totals over every page", async () => {
  const whole = await client.call("GET", "/api/v1/usage");
  expect(whole.rows.length).toBeGreaterThanOrEqual(6);
  expect(whole.next).toBeNull();
  const rows: typeof whole.rows = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await client.call("GET", "/api/v1/usage", { query: { limit: 4, after } });
    expect(page.rows.length).toBeLessThanOrEqual(4);
    expect(page.totals).toEqual(whole.totals);
    rows.push(...page.rows);
    after = page.next ?? undefined;
    pages++;
  } while (after);
  expect(pages).toBe(Math.ceil(whole.rows.length / 4));
  expect(rows).toEqual(whole.rows);
  // One key's rows page the same way.
  const one = await client.call("GET", "/api/v1/usage", { query: { key: "bravo", limit: 1 } });
  expect(one.rows.map((r) => [r.key, r.model])).toEqual([["bravo", "m:1b"]]);
  const rest = await client.call("GET", "/api/v1/usage", { query: { key: "bravo", limit: 1, after: one.next! } });
  expect(rest.rows.map((r) => [r.key, r.model])).toEqual([["bravo", "n:1b"]]);
  expect(rest.next).toBeNull();
  // A cursor this API did not make is the caller's mistake, named.
  const bad = await client.call("GET", "/api/v1/usage", { query: { after: "nonsense" } }).catch((e: ApiError) => e);
  expect({ status: (bad as ApiError).status, code: (bad as ApiError).code, message: (bad as ApiError).message }).toMatchObject({ status: 422, code: "validation_failed", message: expect.stringContaining("query.after") });
});
