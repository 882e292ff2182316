// Errors through a real relay and daemon as the official ollama and openai clients show them: the real message, never "[object Object]".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";
import { hashToken } from "../../src/relay/auth.ts";

let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;
const OFFLINE_CLIENT = "offline-client-key-xxxxxxxx";
const MODEL = "tiny:1b";

beforeAll(async () => {
  fake = await startFakeOllama({ models: [MODEL] });
  // "offline" has no agent: every call to it meets a tunnel that is not connected.
  relay = await startRelayProc(
    relayToml() + `\n[[tunnels]]\nid = "offline"\nagent_token_sha256 = "${hashToken("offline-agent-token-xxxxxxxx")}"\nclient_key_sha256 = ["${hashToken(OFFLINE_CLIENT)}"]\n`,
  );
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
}, 40_000);

afterAll(async () => {
  await daemon?.stop();
  await relay?.stop();
  await fake?.stop();
  cleanup(relay?.dir, daemon?.home);
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
  });

  test("a path the agent refuses comes back in Ollama's shape too", async () => {
    // Model management is off through the tunnel by default ([tunnel] allow_model_management).
    const e = await ollamaError(ollama(TUNNEL_ID, CLIENT_KEY).pull({ model: MODEL, stream: false }));
    expect(e?.status).toBe(403);
    expect(e?.message).toMatch(/^model management \(\/api\/pull\) is not allowed through the tunnel/);
  });

  test("a broker error behind the tunnel reaches the openai client in OpenAI's shape", async () => {
    await fake.stop();
    try {
      const e = await openAiError(openai(TUNNEL_ID, CLIENT_KEY).chat.completions.create(chat));
      expect(e!.status).toBe(502);
      expect(e!.message).toMatch(/^502 upstream "fake" could not be reached/);
      expect(e!.code).toBe("upstream_error");
      const o = await ollamaError(ollama(TUNNEL_ID, CLIENT_KEY).chat(chat));
      expect(o?.message).toMatch(/^upstream "fake" could not be reached/);
    } finally {
      fake = await startFakeOllama({ models: [MODEL], port: Number(new URL(fake.url).port) });
    }
  });
});
