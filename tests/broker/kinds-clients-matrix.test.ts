// Every official client, streaming and not, against every upstream kind through a real daemon: each parses every event
// the broker sends (passed through or translated), ends with the right stop reason and counts, and raises an upstream
// that breaks off mid-stream as an error rather than taking the part it got for a whole answer.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { servesNatively, type KindName } from "../../src/kinds/index.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { TOOL_ARGS } from "../helpers/fake-dialects.ts";
import { apiToken, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";

const KINDS: KindName[] = ["ollama", "llamacpp", "vllm", "lmstudio", "openai"];
const fakes: Partial<Record<KindName, FakeOllama>> = {};
let d: DaemonProc;
let broker: string;

beforeAll(async () => {
  let toml = `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n`;
  for (const kind of KINDS) {
    const f = (fakes[kind] = await startFakeOllama({ models: [`${kind}-m:1b`], tokens: 4, kind }));
    toml += `[[upstreams]]\nname = "${kind}"\nkind = "${kind}"\nurl = "${f.url}"\n`;
  }
  d = await startDaemon({ config: toml, waitFor: ["api", "broker"] });
  broker = d.urls.broker!;
  await untilUpstreamsUp(d, await apiToken(d), KINDS.length);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  for (const f of Object.values(fakes)) await f.stop();
  if (d) removeHome(d.home);
});

const anthropic = () => new Anthropic({ baseURL: broker, apiKey: "local", maxRetries: 0 });
const openai = () => new OpenAI({ baseURL: `${broker}/v1`, apiKey: "ollama", maxRetries: 0 });
const ollama = () => new Ollama({ host: broker });
const WEATHER: Anthropic.Tool = { name: "get_weather", description: "The weather of a city", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };

async function thrown(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("the call succeeded");
}

/** Runs `f` while the kind's fake breaks every stream off after two tokens. */
async function breaking<T>(kind: KindName, f: () => Promise<T>): Promise<T> {
  // Tokens a moment apart, so the first ones reach the client before the break (else it is a failure before the head).
  Object.assign(fakes[kind]!.options, { dieAfterTokens: 2, tokenDelayMs: 20 });
  try {
    return await f();
  } finally {
    Object.assign(fakes[kind]!.options, { dieAfterTokens: undefined, tokenDelayMs: 0 });
  }
}

/**
 * What each server reads to switch a model's thinking on (true) or off (false), from its docs: Ollama its own `think`
 * (the request as it is); llama.cpp chat_template_kwargs' enable_thinking (tools/server/README.md); vLLM the template
 * variables of its reasoning outputs docs (enable_thinking: Qwen3 and most; thinking: DeepSeek-V3.1, Granite); LM Studio
 * reasoning_effort "none" (on: the model's default); OpenAI no field every model takes (nothing is sent).
 */
const THINK: Record<KindName, (on: boolean) => { path: string; fields: Record<string, unknown> }> = {
  ollama: (on) => ({ path: "/api/chat", fields: { think: on } }),
  llamacpp: (on) => ({ path: "/v1/chat/completions", fields: { chat_template_kwargs: { enable_thinking: on } } }),
  vllm: (on) => ({ path: "/v1/chat/completions", fields: { chat_template_kwargs: { enable_thinking: on, thinking: on } } }),
  lmstudio: (on) => ({ path: "/v1/chat/completions", fields: on ? {} : { reasoning_effort: "none" } }),
  openai: () => ({ path: "/v1/chat/completions", fields: {} }),
};
const SWITCHES = ["think", "chat_template_kwargs", "reasoning_effort"];

for (const kind of KINDS) {
  const model = `${kind}-m:1b`;
  describe(`upstream kind ${kind}`, () => {
    test("ollama client: think true and false reach the upstream as its server reads them, and a thinking model's reasoning comes back as thinking only when on (whole and streamed)", async () => {
      // The fakes of the kinds that return reasoning text (fake-kinds: FAKE_KIND_THINKING) answer as a thinking model.
      const reasons = kind === "llamacpp" || kind === "vllm" || kind === "lmstudio";
      fakes[kind]!.options.reasoning = "hmm, ";
      try {
        for (const on of [true, false]) {
          for (const stream of [false, true] as const) {
            const want = THINK[kind](on);
            let thinking = "";
            if (stream) for await (const p of await ollama().chat({ model, messages: [{ role: "user", content: "hi" }], think: on, stream: true })) thinking += p.message.thinking ?? "";
            else thinking = (await ollama().chat({ model, messages: [{ role: "user", content: "hi" }], think: on, stream: false })).message.thinking ?? "";
            const seen = fakes[kind]!.requests.filter((q) => q.path === want.path).at(-1)!.json as Record<string, unknown>;
            const switches = Object.fromEntries(SWITCHES.filter((k) => k in seen).map((k) => [k, seen[k]]));
            expect(switches).toEqual(want.fields);
            if (reasons) expect({ on, stream, thinking }).toEqual({ on, stream, thinking: on ? "hmm, " : "" });
          }
        }
      } finally {
        fakes[kind]!.options.reasoning = "";
      }
    });

    test("ollama client: chat whole and streamed, done_reason stop, the counts on the last line", async () => {
      const whole = await ollama().chat({ model, messages: [{ role: "user", content: "hi" }], stream: false });
      expect(whole.message.content).toBe("tok0 tok1 tok2 tok3 ");
      expect(whole).toMatchObject({ done: true, done_reason: "stop", eval_count: 4 });
      let text = "";
      let last: { done?: boolean; done_reason?: string; eval_count?: number } = {};
      for await (const part of await ollama().chat({ model, messages: [{ role: "user", content: "hi" }], stream: true })) {
        text += part.message.content;
        last = part;
      }
      expect(text).toBe("tok0 tok1 tok2 tok3 ");
      expect(last).toMatchObject({ done: true, done_reason: "stop", eval_count: 4 });
    });

    test("openai client: a chat stream with include_usage ends with finish_reason stop and the usage chunk", async () => {
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const c of await openai().chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true } })) chunks.push(c);
      expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe("tok0 tok1 tok2 tok3 ");
      expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe("stop");
      expect(chunks.at(-1)!.usage).toMatchObject({ completion_tokens: 4 });
    });

    test("anthropic client: messages.stream() text and tool_use, stop reasons end_turn and tool_use, usage", async () => {
      const m = await anthropic().messages.stream({ model, max_tokens: 4, messages: [{ role: "user", content: "hi" }] }).finalMessage();
      expect(m.content).toMatchObject([{ type: "text", text: "tok0 tok1 tok2 tok3 " }]);
      expect(m.content.length).toBe(1);
      expect(m.stop_reason).toBe("end_turn");
      expect(m.usage.output_tokens).toBe(4);
      const t = await anthropic().messages.stream({ model, max_tokens: 100, tools: [WEATHER], messages: [{ role: "user", content: "weather in Paris?" }] }).finalMessage();
      expect(t.stop_reason).toBe("tool_use");
      expect(t.content.find((b) => b.type === "tool_use")).toMatchObject({ name: "get_weather", input: JSON.parse(TOOL_ARGS.join("")) });
    });

    test("openai client: responses.stream() (the helper that checks every event) finishes with the text and usage", async () => {
      const r = await openai().responses.stream({ model, input: "hi" }).finalResponse();
      expect(r.status).toBe("completed");
      expect(r.output_text).toBe("tok0 tok1 tok2 tok3 ");
      expect(r.usage?.output_tokens).toBe(4);
      if (servesNatively(kind, "responses")) return;
      // Translated: a tool call's arguments, streamed in pieces, land in its function_call item.
      const tools: OpenAI.Responses.Tool[] = [{ type: "function", name: "get_weather", parameters: WEATHER.input_schema as Record<string, unknown>, strict: false }];
      const t = await openai().responses.stream({ model, input: "weather in Paris?", tools }).finalResponse();
      expect(t.output).toMatchObject([{ type: "function_call", name: "get_weather", arguments: TOOL_ARGS.join(""), status: "completed" }]);
    });

    test("an upstream that breaks off mid-stream is an error each client raises (or, Responses, a response that is not completed)", async () => {
      await breaking(kind, async () => {
        const o = await thrown(
          (async () => {
            for await (const _ of await ollama().chat({ model, messages: [{ role: "user", content: "hi" }], stream: true }));
          })(),
        );
        expect(o.message).toContain("broke off");
        const c = await thrown(
          (async () => {
            for await (const _ of await openai().chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], stream: true }));
          })(),
        );
        expect(c).toBeInstanceOf(OpenAI.APIError);
        const a = await thrown(anthropic().messages.stream({ model, max_tokens: 100, messages: [{ role: "user", content: "hi" }] }).finalMessage());
        expect(a).toBeInstanceOf(Anthropic.APIError);
        const types: string[] = [];
        for await (const ev of await openai().responses.create({ model, input: "hi", stream: true })) types.push(ev.type);
        expect(types).not.toContain("response.completed");
        expect(["error", "response.failed"]).toContain(types.at(-1)!);
      });
    });
  });
}
