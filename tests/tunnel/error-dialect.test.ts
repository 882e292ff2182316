// Errors through a real relay and daemon as the official ollama and openai clients show them: the real message, never "[object Object]".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { CLIENT_KEY, TUNNEL_ID, relayToml, type RelayProc } from "./helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { connect } from "node:net";

let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;
const OFFLINE_CLIENT = "offline-client-key-xxxxxxxx";
const MODEL = "tiny:1b";

let rig: TunnelRig;

beforeAll(async () => {
  rig = await startTunnelRig({
    fake: { models: [MODEL] },
    // "offline" has no agent: every call to it meets a tunnel that is not connected.
    relayToml: relayToml() + `\n[[tunnels]]\nid = "offline"\nagent_token_sha256 = "${hashToken("offline-agent-token-xxxxxxxx")}"\nclient_key_sha256 = ["${hashToken(OFFLINE_CLIENT)}"]\n`,
  });
  ({ fake, relay, daemon } = rig);
}, 40_000);
afterAll(async () => {
  await rig?.stop();
});

/** What the ollama client throws (its ResponseError), or null when the call succeeded. */
async function ollamaError(p: Promise<unknown>): Promise<{ message: string; status: number } | null> {
  try {
    await p;
    return null;
  } catch (e) {
    return { message: (e as Error).message, status: (e as { status_code: number }).status_code };
  }
}

async function openAiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError> | null> {
  try {
    await p;
    return null;
  } catch (e) {
    expect(e).toBeInstanceOf(OpenAI.APIError);
    return e as InstanceType<typeof OpenAI.APIError>;
  }
}

const openai = (tunnel: string, key: string) => new OpenAI({ baseURL: `${relay.url}/t/${tunnel}/v1`, apiKey: key, maxRetries: 0 });
const ollama = (tunnel: string, key: string) => new Ollama({ host: `${relay.url}/t/${tunnel}`, headers: { Authorization: `Bearer ${key}` } });
const chat = { model: MODEL, messages: [{ role: "user" as const, content: "hi" }] };

describe("the relay's errors in the caller's dialect", () => {
  test("a wrong key: the ollama client shows the relay's message; the raw answer is Ollama's shape with the stable code in a header", async () => {
    const raw = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/tags`, { headers: { Authorization: "Bearer wrong-key" } });
    expect(raw.status).toBe(401);
    expect(raw.headers.get("x-c2l-error-code")).toBe("unauthorized");
    expect(await raw.json()).toEqual({ error: "unknown client key for this tunnel" });

    const e = await ollamaError(ollama(TUNNEL_ID, "wrong-key").list());
    expect(e).toEqual({ message: "unknown client key for this tunnel", status: 401 });
    const streamed = await ollamaError(ollama(TUNNEL_ID, "wrong-key").chat({ ...chat, stream: true }));
    expect(streamed?.message).toBe("unknown client key for this tunnel");
  });

  test("a wrong key: the openai client shows the relay's message, an authentication_error with the stable code", async () => {
    const e = await openAiError(openai(TUNNEL_ID, "wrong-key").chat.completions.create(chat));
    expect(e!.status).toBe(401);
    expect(e!.message).toBe("401 unknown client key for this tunnel");
    expect(e!.code).toBe("unauthorized");
    expect(e!.type).toBe("authentication_error");
    expect(e!.headers?.get("x-c2l-error-code")).toBe("unauthorized");
  });

  test("an offline tunnel: both clients show that the tunnel is not connected", async () => {
    const o = await ollamaError(ollama("offline", OFFLINE_CLIENT).chat(chat));
    expect(o).toEqual({ message: 'tunnel "offline" is not connected', status: 502 });
    const a = await openAiError(openai("offline", OFFLINE_CLIENT).chat.completions.create({ ...chat, stream: true }));
    expect(a!.status).toBe(502);
    expect(a!.message).toBe('502 tunnel "offline" is not connected');
    expect(a!.code).toBe("tunnel_offline");
    expect(a!.type).toBe("server_error");
    expect(a!.headers?.get("x-c2l-error-code")).toBe("tunnel_offline");
    const raw = await fetch(`${relay.url}/t/offline/api/chat`, { method: "POST", headers: { Authorization: `Bearer ${OFFLINE_CLIENT}` }, body: "{}" });
    expect(raw.headers.get("x-c2l-error-code")).toBe("tunnel_offline");
    expect(await raw.json()).toEqual({ error: 'tunnel "offline" is not connected' });
  });

  test("a path the agent refuses comes back in Ollama's shape too", async () => {
    // Model management is off through the tunnel by default ([tunnel] allow_model_management).
    const e = await ollamaError(ollama(TUNNEL_ID, CLIENT_KEY).pull({ model: MODEL, stream: false }));
    expect(e?.status).toBe(403);
    expect(e?.message).toMatch(/^model management \(\/api\/pull\) is not allowed through the tunnel/);
  });

  test("a /v1 path the agent refuses reaches the openai client as a PermissionDeniedError with the agent's sentence", async () => {
    // /v1/files is not in the default [tunnel] allowed_paths: the agent, not the relay, refuses it.
    const e = await openAiError(openai(TUNNEL_ID, CLIENT_KEY).files.list());
    expect(e).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(e!.message).toBe("403 /v1/files is not in [tunnel] allowed_paths");
    expect(e!.code).toBe("forbidden");
    expect(e!.type).toBe("permission_error");
    expect(e!.headers?.get("x-c2l-error-code")).toBe("forbidden");
  });

  test("our control API's namespace (/api/v1/*) through the tunnel keeps the control API's shape, not Ollama's", async () => {
    const r = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/v1/requests`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
    expect(r.status).toBe(403);
    expect(r.headers.get("x-c2l-error-code")).toBe("forbidden");
    expect(await r.json()).toEqual({ error: { code: "forbidden", message: "/api/v1/requests is not in [tunnel] allowed_paths" } });
  });

  test("HTTP/1.0 without Host on a tunnel path is answered in that path's dialect", async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(new URL(relay.url).port), "127.0.0.1", () => s.write(`GET /t/${TUNNEL_ID}/v1/models HTTP/1.0\r\n\r\n`));
      let out = "";
      s.on("data", (d) => (out += d.toString("utf8")));
      s.on("close", () => resolve(out));
      s.on("error", reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.[01] 400 /);
    expect(raw.toLowerCase()).toContain("\r\nx-c2l-error-code: bad_request\r\n");
    const body = JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4));
    expect(body).toEqual({ error: { message: expect.stringContaining("no Host header"), type: "invalid_request_error", code: "bad_request", param: null } });
  });

  test("an upstream breaking off mid-stream: both clients throw the broker's sentence from the stream's last line or event", async () => {
    const { tokens, tokenDelayMs } = fake.options;
    Object.assign(fake.options, { tokens: 10, tokenDelayMs: 20, dieAfterTokens: 3 });
    try {
      const got: string[] = [];
      const a = await openAiError(
        (async () => {
          for await (const chunk of await openai(TUNNEL_ID, CLIENT_KEY).chat.completions.create({ ...chat, stream: true })) got.push(chunk.choices[0]?.delta?.content ?? "");
        })(),
      );
      expect(got.length).toBeGreaterThan(0); // the 200 and the first tokens came: only the stream can carry the error
      expect(a!.message).toMatch(/^upstream "fake" broke off the response/);
      expect(a!.code).toBe("upstream_error");
      expect(a!.type).toBe("server_error");
      const o = await ollamaError(
        (async () => {
          for await (const _ of await ollama(TUNNEL_ID, CLIENT_KEY).chat({ ...chat, stream: true }));
        })(),
      );
      expect(o?.message).toMatch(/^upstream "fake" broke off the response/);
    } finally {
      Object.assign(fake.options, { tokens, tokenDelayMs, dieAfterTokens: undefined });
    }
  });

  test("a broker error behind the tunnel reaches the openai client in OpenAI's shape", async () => {
    await fake.stop();
    try {
      const e = await openAiError(openai(TUNNEL_ID, CLIENT_KEY).chat.completions.create(chat));
      expect(e!.status).toBe(502);
      expect(e!.message).toMatch(/^502 upstream "fake" could not be reached/);
      expect(e!.code).toBe("upstream_error");
      expect(e!.type).toBe("server_error");
      expect(e!.headers?.get("x-c2l-error-code")).toBe("upstream_error");
      const o = await ollamaError(ollama(TUNNEL_ID, CLIENT_KEY).chat(chat));
      expect(o?.message).toMatch(/^upstream "fake" could not be reached/);
    } finally {
      fake = await startFakeOllama({ models: [MODEL], port: Number(new URL(fake.url).port) });
    }
  });
});
