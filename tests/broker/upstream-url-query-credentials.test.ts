// An upstream's url with a query (Azure OpenAI's `?api-version=…`, a gateway's `?api_key=…`, which docs/api.md shows
// redacted): each request's path goes before that query, and the query goes with every request, the broker's own
// probes and model lists too. Before, the pooled HTTP/1.1 client dropped the query, and fetch (https://, or a URL
// with credentials) put the path inside it (`/?api-version=1/api/chat`: every call went to `/`).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { TEST_DAEMON_TOML, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";

let plain: FakeOllama;
let keyed: FakeOllama;
let d: DaemonProc;

beforeAll(async () => {
  plain = await startFakeOllama({ models: ["plain:1b"] });
  keyed = await startFakeOllama({ models: ["keyed:1b"] });
  d = await startDaemon({
    config: `${TEST_DAEMON_TOML}[health]
interval = "1s"
[[upstreams]]
name = "plain"
url = "http://127.0.0.1:${plain.port}/?api-version=2024-10-21"
[[upstreams]]
name = "keyed"
url = "http://svc:pw@127.0.0.1:${keyed.port}/?api_key=k1&region=eu#frag"
`,
    waitFor: ["api", "broker"],
  });
}, 30_000);

afterAll(async () => {
  await d?.stop();
  await plain?.stop();
  await keyed?.stop();
  if (d) removeHome(d.home);
});

test("an upstream url's query goes after each request's path, on the pooled client and on fetch, probes and model lists included", async () => {
  const chat = (model: string) => JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], stream: false });
  for (const model of ["plain:1b", "keyed:1b"]) {
    const r = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: chat(model) });
    expect({ model, status: r.status }).toEqual({ model, status: 200 });
    await r.text();
  }
  // A request's own query comes first, the url's after it.
  const listed = await fetch(`${d.urls.broker}/v1/models?limit=5`);
  expect(listed.status).toBe(200);
  await listed.text();
  const seen = (f: FakeOllama) => [...new Set(f.requests.map((q) => `${q.method} ${q.path}${q.search}`))].sort();
  expect(seen(plain)).toEqual(expect.arrayContaining(["GET /api/version?api-version=2024-10-21", "POST /api/chat?api-version=2024-10-21"]));
  expect(seen(keyed)).toEqual(expect.arrayContaining(["GET /api/version?api_key=k1&region=eu", "POST /api/chat?api_key=k1&region=eu"]));
  // Every request carried the url's query, nothing went to the url's bare path, and the fragment was never sent.
  for (const [f, q] of [[plain, "api-version=2024-10-21"], [keyed, "api_key=k1&region=eu"]] as const) {
    expect(f.requests.filter((r) => !r.search.endsWith(q) || r.path === "/").map((r) => `${r.method} ${r.path}${r.search}`)).toEqual([]);
  }
}, 30_000);
