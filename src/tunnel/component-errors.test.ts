// The agent's own answers to the relay (refusals, no broker, a broker that throws) in the caller's dialect with the stable code.
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import type { DaemonContext } from "../core/component.ts";
import { TunnelService } from "./component.ts";

function service(broker?: { handle(req: Request, source: string): Promise<Response> }) {
  const r = parseConfig(`[tunnel]\nrelay_url = "wss://relay.example/agent"\n`, "test.toml");
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const config = r.config;
  const ctx = { config: { current: () => config }, services: broker ? { broker } : {} } as unknown as DaemonContext;
  return { svc: new TunnelService(ctx), cfg: config.tunnel };
}

async function answer(res: Response) {
  return { status: res.status, code: res.headers.get("x-c2l-error-code"), body: await res.json() };
}

const req = (method: string, path: string) => new Request(`http://tunnel.invalid${path}`, { method, body: method === "POST" ? "{}" : null });

describe("the agent's errors", () => {
  test("a refused path: Ollama's shape on /api/*, OpenAI's on /v1/*", async () => {
    const { svc, cfg } = service({ handle: async () => new Response("served") });
    expect(await answer(await svc.handle(req("POST", "/api/pull"), cfg))).toEqual({
      status: 403,
      code: "forbidden",
      body: { error: "model management (/api/pull) is not allowed through the tunnel; set [tunnel] allow_model_management = true to allow it" },
    });
    expect(await answer(await svc.handle(req("GET", "/v1/files"), cfg))).toEqual({
      status: 403,
      code: "forbidden",
      body: { error: { message: "/v1/files is not in [tunnel] allowed_paths", type: "permission_error", code: "forbidden", param: null } },
    });
    expect(await answer(await svc.handle(req("TRACE", "/v1/models"), cfg))).toEqual({
      status: 405,
      code: "method_not_allowed",
      body: { error: { message: "TRACE is not allowed through the tunnel", type: "invalid_request_error", code: "method_not_allowed", param: null } },
    });
  });

  test("no broker running: 503 unavailable in the caller's dialect", async () => {
    const { svc, cfg } = service();
    expect(await answer(await svc.handle(req("POST", "/api/chat"), cfg))).toEqual({ status: 503, code: "unavailable", body: { error: "the broker is not running" } });
    const openai = await answer(await svc.handle(req("POST", "/v1/chat/completions"), cfg));
    expect(openai.body).toEqual({ error: { message: "the broker is not running", type: "server_error", code: "unavailable", param: null } });
  });

  test("a broker that throws: 500 internal in the caller's dialect, not a reset stream carrying the bug's message", async () => {
    const { svc, cfg } = service({
      handle: async () => {
        throw new Error("secret internals");
      },
    });
    const r = await answer(await svc.handle(req("POST", "/v1/chat/completions"), cfg));
    expect(r).toEqual({ status: 500, code: "internal", body: { error: { message: "the agent failed this request", type: "server_error", code: "internal", param: null } } });
    expect(JSON.stringify(r)).not.toContain("secret internals");
  });
});
