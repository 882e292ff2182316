// The lazy front of the control API: a route of a plugin the app loads a moment later (Swagger) answers its first caller.
import { afterEach, expect, test } from "bun:test";
import { NOT_LOADED_MESSAGE, serveApiFront, type ApiFront, type FrontApp } from "./lazy-front.ts";

let front: ApiFront | null = null;
afterEach(async () => {
  await front?.stop(true);
  front = null;
});

/** An app like Elysia's: /healthz at once, /swagger only after its lazily loaded plugin is in and the app recompiled. */
function app(pluginDelayMs: number): FrontApp & { compiled: number } {
  let docs = false;
  const a = {
    server: null as unknown,
    compiled: 0,
    modules: Bun.sleep(pluginDelayMs).then(() => void (docs = true)),
    compile() {
      a.compiled++;
    },
    fetch(req: Request) {
      const path = new URL(req.url).pathname;
      if (path === "/healthz") return new Response("ok");
      if (path === "/swagger" && docs && a.compiled) return new Response("<html>swagger</html>");
      return new Response("not found", { status: 404 });
    },
  };
  return a;
}

test("the first request for /swagger, made before the docs plugin is in, waits for it instead of getting a 404", async () => {
  front = serveApiFront(async () => app(200), { hostname: "127.0.0.1", port: 0, maxRequestBodySize: 1024 });
  const base = `http://127.0.0.1:${front.server.port}`;
  const first = await fetch(`${base}/swagger`);
  expect(first.status).toBe(200);
  expect(await first.text()).toContain("swagger");
});

test("a POST is not asked twice, and a plain not-found is still a 404 once the plugins are in", async () => {
  front = serveApiFront(async () => app(300), { hostname: "127.0.0.1", port: 0, maxRequestBodySize: 1024 });
  const base = `http://127.0.0.1:${front.server.port}`;
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  // Before the plugin is in: a request with a body gets the app's answer as it is (its body was read once).
  expect((await fetch(`${base}/swagger`, { method: "POST", body: "x" })).status).toBe(404);
  expect((await fetch(`${base}/nope`)).status).toBe(404);
  expect((await fetch(`${base}/swagger`)).status).toBe(200);
});

test("a load that fails (the file limit: Bun cannot open the app's modules) answers 503 unavailable, and the next request loads again", async () => {
  let loads = 0;
  front = serveApiFront(
    async () => {
      if (++loads === 1) throw Object.assign(new Error("EMFILE: too many open files, open '/somewhere/app.ts'"), { code: "EMFILE" });
      return app(0);
    },
    { hostname: "127.0.0.1", port: 0, maxRequestBodySize: 1024 },
  );
  const base = `http://127.0.0.1:${front.server.port}`;
  const first = await fetch(`${base}/healthz`);
  // Before: 500 internal ("internal error; the daemon log has the details"), which reads as a bug, not a moment's shortage.
  expect({ status: first.status, retryAfter: first.headers.get("retry-after"), body: await first.json() }).toEqual({
    status: 503,
    retryAfter: "1",
    body: { error: { code: "unavailable", message: NOT_LOADED_MESSAGE } },
  });
  // The failed load was not kept: this request loads the app again, and gets its answer.
  const second = await fetch(`${base}/healthz`);
  expect({ status: second.status, text: await second.text(), loads }).toEqual({ status: 200, text: "ok", loads: 2 });
});
