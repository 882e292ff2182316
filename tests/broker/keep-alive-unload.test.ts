// `ollama stop` through upstreams whose config sets keep_alive, with the official ollama client and a real daemon: the
// operator's keep_alive rules how long a model stays after the requests that run it, and an explicit unload (empty
// prompt or messages, keep_alive 0) still unloads, on an Ollama upstream (passed as sent) and a translated one (nothing run).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ollama } from "ollama";
import { apiToken, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";

/** Ollama's API as docs/api.md describes loading and unloading: an empty prompt (or messages) loads the model, with keep_alive 0 unloads it. */
const loaded = new Set<string>();
const generations: any[] = [];
let ollamaUp: ReturnType<typeof Bun.serve>;
/** An OpenAI-compatible server (translated for): every chat completion it gets is recorded (a completion would load the model). */
const completions: any[] = [];
let openaiUp: ReturnType<typeof Bun.serve>;
let d: DaemonProc;

const zero = (k: unknown) => k === 0 || k === "0" || k === "0s";

function ollamaAnswer(route: string, body: any): Response {
  generations.push({ route, body });
  const done = { model: body.model, created_at: new Date().toISOString(), done: true, ...(route === "chat" ? { message: { role: "assistant", content: "" } } : { response: "" }) };
  const nothing = route === "chat" ? !body.messages?.length : !body.prompt;
  if (nothing && zero(body.keep_alive)) {
    loaded.delete(body.model);
    return Response.json({ ...done, done_reason: "unload" });
  }
  loaded.add(body.model);
  return Response.json({ ...done, done_reason: nothing ? "load" : "stop" });
}

beforeAll(async () => {
  ollamaUp = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/version") return Response.json({ version: "0.12.0" });
      if (path === "/api/tags") return Response.json({ models: [{ name: "m:1b", model: "m:1b" }] });
      if (path === "/api/ps") return Response.json({ models: [...loaded].map((name) => ({ name, model: name })) });
      if (path === "/api/generate" || path === "/api/chat") return ollamaAnswer(path.slice(5), await req.json());
      return new Response("404 page not found", { status: 404 });
    },
  });
  openaiUp = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/v1/models") return Response.json({ object: "list", data: [{ id: "x:1b", object: "model", created: 1, owned_by: "me" }] });
      if (path === "/v1/chat/completions") {
        completions.push(await req.json());
        return Response.json({ id: "c", object: "chat.completion", created: 1, model: "x:1b", choices: [{ index: 0, message: { role: "assistant", content: "" }, finish_reason: "length" }], usage: { prompt_tokens: 1, completion_tokens: 1 } });
      }
      return Response.json({ error: { message: "not found" } }, { status: 404 });
    },
  });
  const up = (name: string, kind: string, port: number) => `[[upstreams]]\nname = "${name}"\nkind = "${kind}"\nurl = "http://127.0.0.1:${port}"\nkeep_alive = "30m"\n`;
  d = await startDaemon({ config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n${up("local", "ollama", ollamaUp.port!)}${up("plain", "openai", openaiUp.port!)}`, waitFor: ["api", "broker"] });
  await untilUpstreamsUp(d, await apiToken(d), 2);
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await ollamaUp?.stop(true);
  await openaiUp?.stop(true);
  if (d) removeHome(d.home);
});

const ollama = () => new Ollama({ host: d.urls.broker });

test("an Ollama upstream: a load gets the operator's keep_alive; `ollama stop` (generate or chat) passes with its keep_alive 0 and unloads", async () => {
  const load = await ollama().generate({ model: "m:1b", prompt: "", stream: false });
  expect(load.done_reason).toBe("load");
  expect(generations.at(-1)!.body.keep_alive).toBe("30m");
  expect(loaded.has("m:1b")).toBe(true);
  const stop = await ollama().generate({ model: "m:1b", prompt: "", keep_alive: 0, stream: false });
  expect(stop.done_reason).toBe("unload");
  expect(generations.at(-1)!.body).toEqual({ model: "m:1b", prompt: "", keep_alive: 0, stream: false });
  expect(loaded.has("m:1b")).toBe(false);
  await ollama().chat({ model: "m:1b", messages: [], stream: false });
  expect(loaded.has("m:1b")).toBe(true);
  const chatStop = await ollama().chat({ model: "m:1b", messages: [], keep_alive: "0s", stream: false });
  expect(chatStop.done_reason).toBe("unload");
  expect(loaded.has("m:1b")).toBe(false);
  // A request that runs the model is the operator's to keep, even with the client's keep_alive 0.
  await ollama().generate({ model: "m:1b", prompt: "hi", keep_alive: 0, stream: false });
  expect(generations.at(-1)!.body.keep_alive).toBe("30m");
});

test("a translated upstream: `ollama stop` sends no completion (which would load the model) and is answered unload", async () => {
  const before = completions.length;
  const stop = await ollama().generate({ model: "x:1b", prompt: "", keep_alive: 0, stream: false });
  expect(stop.done_reason).toBe("unload");
  expect(completions.length).toBe(before);
});
