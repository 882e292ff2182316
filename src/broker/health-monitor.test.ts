// Unit tests for the health monitor's use of a kind's reads: the probe decides the state; the optional reads (loaded
// models, load) never do, whatever they answer.
import { afterAll, expect, test } from "bun:test";
import { HealthMonitor } from "./health-monitor.ts";
import { Upstream } from "./upstream.ts";
import type { KindName } from "../kinds/index.ts";

let routes: Record<string, () => Response> = {};
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => (routes[new URL(req.url).pathname] ?? (() => new Response("nope", { status: 404 })))() });
afterAll(() => server.stop(true));

function upstream(kind: KindName): Upstream {
  return new Upstream({ name: "u", kind, url: `http://127.0.0.1:${server.port}`, priority: 1, enabled: true, connect_timeout: "1s", first_byte_timeout: "1s", stream_idle_timeout: "5m", keep_alive: "", max_parallel: 0, auth_secret: "", auth_header: "Authorization", auth_scheme: "Bearer", ca_file: "", tls_insecure: false }, 60_000);
}
const check = async (u: Upstream) => {
  const m = new HealthMonitor(u, { intervalMs: 60_000, downIntervalMs: 60_000, timeoutMs: 1000, failuresBeforeDown: 3 }, { checked: () => {}, refreshAuth: async () => {} });
  await m.check();
  m.stop();
  await Bun.sleep(50); // the optional reads land beside the check
};

test("a server answering garbage on its load routes stays up and reports no load", async () => {
  routes = {
    "/health": () => Response.json({ status: "ok" }),
    "/v1/models": () => Response.json({ object: "list", data: [{ id: "m" }] }),
    "/slots": () => new Response("{not json", { headers: { "content-type": "application/json" } }),
    "/props": () => new Response("boom", { status: 500 }),
  };
  const u = upstream("llamacpp");
  await check(u);
  expect(u.state).toBe("up");
  expect(u.models).toEqual(["m"]);
  expect(u.capacity).toBeNull();
  expect(u.pressure()).toBe(0);
});

test("some of the probe's reads failing is degraded, all failing is down; llama.cpp loading names the 503", async () => {
  routes = { "/health": () => Response.json({ error: { code: 503, message: "Loading model" } }, { status: 503 }), "/v1/models": () => Response.json({ object: "list", data: [{ id: "m" }] }) };
  const u = upstream("llamacpp");
  await check(u);
  expect(u.state).toBe("degraded");
  expect(u.lastError).toBe("/health answered 503");
  routes = {};
  const v = upstream("vllm");
  await check(v);
  expect(v.state).toBe("down");
});

test("a probe answering a body that never ends is read up to the cap, not until the timeout: degraded, naming the cap", async () => {
  const piece = new Uint8Array(1024 * 1024).fill(0x61);
  let pulled = 0;
  routes = {
    "/api/version": () => Response.json({ version: "0.12.0" }),
    // An endless model list (a compromised LAN box answering as Ollama): old code held all of it until timeoutMs.
    "/api/tags": () =>
      new Response(
        new ReadableStream({
          pull(c) {
            pulled++;
            c.enqueue(piece);
          },
        }),
        { headers: { "content-type": "application/json" } },
      ),
  };
  const u = upstream("ollama");
  await check(u);
  expect(u.state).toBe("degraded");
  expect(u.lastError).toBe("/api/tags's answer is over 33554432 bytes, more than the broker reads");
  // Read no further than the cap (and what was in flight).
  expect(pulled).toBeLessThan(200);
});
