// An upstream URL with a query (Azure's ?api-version=…) and a path prefix, through a real daemon: the query goes with
// every request the broker sends there (generations, its health probes, its model lists), the path prefix before the route.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Ollama } from "ollama";
import { apiToken, removeHome, startDaemon, TEST_DAEMON_TOML, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";

/** What the upstream received: path and query, as sent. */
const seen: string[] = [];
let upstream: ReturnType<typeof Bun.serve>;
/** The same upstream behind the broker's two clients: its HTTP/1.1 pool (plain http://) and fetch (https://, or forced). */
const daemons: Record<string, DaemonProc> = {};

beforeAll(async () => {
  // An Ollama answering under /ollama, and only with its api-version (as Azure refuses a request without one).
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      seen.push(url.pathname + url.search);
      if (url.searchParams.getAll("api-version").join() !== "2024-10-21") return Response.json({ error: "missing or wrong api-version" }, { status: 400 });
      if (!url.pathname.startsWith("/ollama/")) return new Response("404 page not found", { status: 404 });
      const path = url.pathname.slice("/ollama".length);
      if (path === "/api/version") return Response.json({ version: "0.12.0" });
      if (path === "/api/tags") return Response.json({ models: [{ name: "m:latest", model: "m:latest", size: 1, digest: "x", modified_at: "2026-01-01T00:00:00Z", details: {} }] });
      if (path === "/api/ps") return Response.json({ models: [] });
      if (path === "/api/chat") return Response.json({ model: "m", created_at: "2026-01-01T00:00:00Z", message: { role: "assistant", content: "hi" }, done: true, done_reason: "stop", prompt_eval_count: 1, eval_count: 1 });
      return new Response("404 page not found", { status: 404 });
    },
  });
  for (const client of ["http1", "fetch"])
    daemons[client] = await startDaemon({
      config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "azure-like"\nurl = "http://127.0.0.1:${upstream.port}/ollama/?api-version=2024-10-21"\n`,
      env: client === "fetch" ? { CLOUDTOLOCALLLM_BROKER_CLIENT: "fetch" } : {},
      waitFor: ["api", "broker"],
    });
}, 30_000);

afterAll(async () => {
  for (const d of Object.values(daemons)) {
    await d.stop();
    removeHome(d.home);
  }
  upstream?.stop(true);
});

for (const client of ["http1", "fetch"]) describe(`the broker's ${client} client`, () => {

test("the URL's query reaches the upstream with every request: its probes (it is up), the model list and a chat (ollama client), under the path prefix", async () => {
  const d = daemons[client]!;
  await untilUpstreamsUp(d, await apiToken(d), 1);
  const ollama = new Ollama({ host: d.urls.broker! });
  expect((await ollama.list()).models.map((m) => m.name)).toEqual(["m:latest"]);
  const r = await ollama.chat({ model: "m", messages: [{ role: "user", content: "hi" }], stream: false });
  expect(r.message.content).toBe("hi");
  expect(seen).toContain("/ollama/api/version?api-version=2024-10-21");
  expect(seen).toContain("/ollama/api/chat?api-version=2024-10-21");
  // Every request it got (the other test's caller query aside) carried the URL's query.
  expect(seen.filter((s) => !s.includes("trace=")).every((s) => s.startsWith("/ollama/api/") && s.endsWith("?api-version=2024-10-21"))).toBe(true);
}, 20_000);

test("a caller's own query is kept, merged before the URL's; a parameter the URL sets is the URL's", async () => {
  const d = daemons[client]!;
  const res = await fetch(`${d.urls.broker}/api/chat?trace=1&api-version=1999-01-01`, { method: "POST", body: JSON.stringify({ model: "m", messages: [], stream: false }) });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  expect(seen.at(-1)).toBe("/ollama/api/chat?trace=1&api-version=2024-10-21");
});
});
