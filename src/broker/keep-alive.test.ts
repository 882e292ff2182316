// The operator's keep_alive put in Ollama model requests, and the explicit unload left as the client sent it (read as Go reads it).
import { expect, test } from "bun:test";
import { withOperatorKeepAlive } from "./keep-alive.ts";

const enc = new TextEncoder();
/** What is sent: the operator's setting put in, or (null from withOperatorKeepAlive: an explicit unload) the body as sent. */
const sent = (route: string, body: object) => {
  const bytes = enc.encode(JSON.stringify(body));
  return JSON.parse(new TextDecoder().decode(withOperatorKeepAlive(bytes, route, "30m") ?? bytes));
};

test("an unload (nothing to run, keep_alive 0 as Go reads it: any case, the last non-null key) passes as sent", () => {
  for (const body of [{ model: "m", keep_alive: 0 }, { model: "m", prompt: "", keep_alive: "0s" }, { model: "m", KEEP_ALIVE: "0m0s" }, { model: "m", keep_alive: "10m", Keep_Alive: 0, KEEP_alive: null }])
    expect(withOperatorKeepAlive(enc.encode(JSON.stringify(body)), "/api/generate", "30m")).toBeNull();
  expect(sent("/api/chat", { model: "m", messages: [], keep_alive: 0 })).toEqual({ model: "m", messages: [], keep_alive: 0 });
});

test("anything else gets the operator's setting, its other spellings taken out", () => {
  expect(sent("/api/generate", { model: "m", prompt: "hi", keep_alive: 0 })).toEqual({ model: "m", prompt: "hi", keep_alive: "30m" });
  expect(sent("/api/generate", { model: "m", PROMPT: "hi", keep_alive: 0 })).toEqual({ model: "m", PROMPT: "hi", keep_alive: "30m" });
  expect(sent("/api/chat", { model: "m", messages: [{ role: "user", content: "hi" }], KEEP_ALIVE: 0 })).toEqual({ model: "m", messages: [{ role: "user", content: "hi" }], keep_alive: "30m" });
  expect(sent("/api/generate", { model: "m", keep_alive: "0", KEEP_ALIVE: "-1" })).toEqual({ model: "m", keep_alive: "30m" });
  // Embeddings never unload: the setting always applies.
  expect(sent("/api/embed", { model: "m", input: [], keep_alive: 0 })).toEqual({ model: "m", input: [], keep_alive: "30m" });
  expect(sent("/v1/chat/completions", { model: "m", keep_alive: 0 })).toEqual({ model: "m", keep_alive: 0 });
});
