// The broker listener's last line of defence: a bug fails with a 500 `internal` in the caller's dialect, with the stable code.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import type { Broker } from "./broker.ts";
import { ProxyListener } from "./listener.ts";

let listener: ProxyListener;

beforeAll(() => {
  const r = parseConfig(`[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n`, "test.toml");
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  // A broker with a bug: it throws at once on /api/*, and fails later (a rejected promise) on /v1/*.
  const broken = {
    handle(req: Request): Promise<Response> {
      if (new URL(req.url).pathname.startsWith("/v1/")) return Promise.reject(new Error("late bug"));
      throw new Error("early bug");
    },
  } as unknown as Broker;
  listener = new ProxyListener(broken, r.config);
  listener.start(r.config.proxy);
});

afterAll(() => listener.stop(true));

test("a thrown error on an Ollama path is a 500 in Ollama's shape", async () => {
  const res = await fetch(`${listener.url}/api/chat`, { method: "POST", body: "{}" });
  expect(res.status).toBe(500);
  expect(res.headers.get("x-c2l-error-code")).toBe("internal");
  expect(await res.json()).toEqual({ error: "internal error in the broker; its log has the details" });
});

test("a rejected promise on an OpenAI path is a 500 in OpenAI's shape, also for a browser's request", async () => {
  for (const headers of [{}, { origin: "http://localhost:3000" }] as Record<string, string>[]) {
    const res = await fetch(`${listener.url}/v1/chat/completions`, { method: "POST", body: "{}", headers });
    expect(res.status).toBe(500);
    expect(res.headers.get("x-c2l-error-code")).toBe("internal");
    expect(await res.json()).toEqual({ error: { message: "internal error in the broker; its log has the details", type: "server_error", code: "internal", param: null } });
  }
});
