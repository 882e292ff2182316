// TRACE and CONNECT never reach an upstream: one that echoes TRACE (Apache's default TraceEnable, in front of an LLM
// server) would hand the caller the credential the broker adds for that upstream (auth_secret).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rawRequest } from "../helpers/raw-http.ts";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";

const SECRET = "sk-upstream-only-0123456789";
/** An upstream that answers Ollama's probes and echoes any TRACE, headers included, as Apache does. */
let echo: ReturnType<typeof Bun.serve>;
const seen: string[] = [];
let tb: TestBroker;

beforeAll(async () => {
  echo = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      seen.push(`${req.method} ${path}`);
      if (req.method === "TRACE" || req.method === "CONNECT") return new Response(`${req.method} ${path}\r\n${[...req.headers].map(([k, v]) => `${k}: ${v}`).join("\r\n")}`, { headers: { "content-type": "message/http" } });
      if (path === "/api/version") return Response.json({ version: "0.12.0" });
      if (path === "/api/tags") return Response.json({ models: [] });
      return Response.json({ error: "not found" }, { status: 404 });
    },
  });
  const secrets = { get: async (n: string) => (n === "up-key" ? SECRET : null) };
  tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("apache", `http://127.0.0.1:${echo.port}`, `auth_secret = "up-key"`), { secrets: secrets as never });
  await tb.waitState("apache", "up");
});

afterAll(async () => {
  await tb?.stop();
  echo?.stop(true);
});

test("TRACE and CONNECT (with a path) are 405 in the caller's dialect, and the upstream never sees them nor shows its credential", async () => {
  const port = Number(new URL(tb.url).port);
  for (const [method, path] of [["TRACE", "/api/version"], ["TRACE", "/v1/models"], ["CONNECT", "/api/chat"]] as const) {
    const r = await rawRequest(port, method, path);
    expect({ method, path, status: r.status, code: r.headers["x-c2l-error-code"] }).toEqual({ method, path, status: 405, code: "method_not_allowed" });
    expect(r.raw).not.toContain(SECRET);
    const message = path.startsWith("/v1/") ? JSON.parse(r.body).error.message : JSON.parse(r.body).error;
    expect(message).toBe(`${method} is not allowed through the broker`);
  }
  expect(seen.filter((s) => !s.startsWith("GET "))).toEqual([]);
});
