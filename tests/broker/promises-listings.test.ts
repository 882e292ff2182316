// The model lists a key with a --models list gets, under every spelling of their routes, through a real daemon: the
// upstream routes "/api/%74ags" as /api/tags (Go decodes escapes), so each spelling is the filtered listing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { createKey, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { until } from "../helpers/until.ts";

const ALLOWED = "llama3.2:1b";
const FORBIDDEN = "qwen2.5:0.5b";
let fake: FakeOllama;
let d: DaemonProc;
let port: number;
let editor: string;

beforeAll(async () => {
  // Both models loaded, so /api/ps would show the forbidden one too.
  fake = await startFakeOllama({ models: [FORBIDDEN, ALLOWED], loaded: [FORBIDDEN, ALLOWED], tokens: 2, routeDecoded: true });
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n`,
    waitFor: ["api", "broker"],
  });
  port = Number(new URL(d.urls.broker!).port);
  editor = createKey(d, "editor", "--models", "llama3*");
  await until(async () => (await fetch(`${d.urls.broker}/api/tags`, { headers: { "x-api-key": editor } })).status === 200, 5000, "the daemon to see the key");
}, 30_000);

afterAll(async () => {
  await d?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
});

/** The names a listing answer holds, whichever shape (Ollama's models[].name, OpenAI's data[].id). */
function names(body: string): string[] {
  const j = JSON.parse(body) as { models?: { name: string }[]; data?: { id: string }[] };
  return (j.models?.map((m) => m.name) ?? j.data?.map((m) => m.id) ?? []).sort();
}

const SPELLINGS: [string, string[]][] = [
  ["/api/tags", ["/api/%74ags", "/api%2Ftags", "/api/tags/", "//api/tags", "/API/Tags"]],
  ["/api/ps", ["/api/%70s", "/api/ps/", "//api//ps"]],
  ["/v1/models", ["/v1/%6Dodels", "/v1/models/", "/V1/models"]],
];

test("every spelling of /api/tags, /api/ps and /v1/models shows a key with a model list only its models, with or without a body naming one", async () => {
  for (const [route, spellings] of SPELLINGS) {
    const canonical = await rawRequest(port, "GET", route, { headers: { "x-api-key": editor } });
    expect({ route, status: canonical.status, names: names(canonical.body) }).toEqual({ route, status: 200, names: [ALLOWED] });
    for (const target of spellings) {
      // A GET's body is not read by Ollama's listing handlers (and Bun's listener drops it): naming an allowed model in one
      // must not open the whole list, nor is a body needed for the key's own models.
      for (const body of [`{"model":"${ALLOWED}"}`, undefined]) {
        const r = await rawRequest(port, "GET", target, { headers: { "x-api-key": editor, ...(body ? { "content-type": "application/json" } : {}) }, body });
        expect(r.body).not.toContain(FORBIDDEN);
        expect({ target, body, status: r.status }).toEqual({ target, body, status: 200 });
        expect({ target, body, names: names(r.body) }).toEqual({ target, body, names: [ALLOWED] });
      }
    }
  }
  // The broker answered each spelling itself: none went to the upstream as it was spelled.
  expect(fake.requests.filter((r) => r.path.includes("%") || (r.path.length > 1 && r.path.endsWith("/")) || r.path.startsWith("//") || /[A-Z]/.test(r.path)).map((r) => r.path)).toEqual([]);
});

test("GET /v1/models/{model} (Ollama answers it as /api/show of that model) is checked on the model in its path, not on a body it never reads", async () => {
  const before = fake.requests.length;
  for (const target of [`/v1/models/${FORBIDDEN}`, `/v1/models/${encodeURIComponent(FORBIDDEN)}`, `/V1/Models/${FORBIDDEN}`]) {
    for (const body of [undefined, `{"model":"${ALLOWED}"}`]) {
      const r = await rawRequest(port, "GET", target, { headers: { "x-api-key": editor }, body });
      expect({ target, body, status: r.status, code: r.headers["x-c2l-error-code"] }).toEqual({ target, body, status: 403, code: "forbidden" });
      expect(JSON.parse(r.body).error.message).toContain(`may not use model "${FORBIDDEN.toLowerCase()}"`);
    }
  }
  expect(fake.requests.slice(before).filter((r) => r.path.startsWith("/v1/models/") || r.path.startsWith("/V1/"))).toEqual([]);
  // Its own model is retrieved (no body needed): the upstream is asked for exactly that one.
  const own = await rawRequest(port, "GET", `/v1/models/${ALLOWED}`, { headers: { "x-api-key": editor } });
  expect(own.status).not.toBe(403);
  expect(fake.requests.slice(before).map((r) => r.path)).toContain(`/v1/models/${ALLOWED}`);
});
