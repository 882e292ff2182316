// Unit tests for the read stage: the payload as sent upstream (alias, usage ask), the models named, refusals in the request's dialect.
import { expect, test } from "bun:test";
import { kit, kitConfig, records, upstreams } from "../../../tests/helpers/pipeline-kit.ts";
import { unbounded } from "../replay-budget.ts";
import { readRequest } from "./read-request.ts";

const dec = new TextDecoder();
const post = (path: string, body: unknown) => new Request(`http://broker${path}`, { method: "POST", body: JSON.stringify(body), headers: { "content-length": String(JSON.stringify(body).length) } });
const ALIAS = `[[aliases]]\nname = "gpt-4o"\nmodel = "m:latest"\n`;

test("an alias from the request's table becomes the routed model and the body's model; the other fields stay", async () => {
  const k = kit(kitConfig(upstreams("a") + ALIAS));
  const ex = k.exchange("/api/chat");
  expect(await readRequest(ex, post("/api/chat", { model: "gpt-4o", messages: [], think: true }), unbounded())).toBeNull();
  expect(ex.model).toBe("m:latest");
  expect(ex.aliasOf).toBe("gpt-4o");
  expect(JSON.parse(dec.decode(ex.payload as Uint8Array))).toEqual({ model: "m:latest", messages: [], think: true });
  expect(ex.payloadLength).toBe((ex.payload as Uint8Array).byteLength);
  expect(ex.retryable).toBe(true);
  expect(ex.named?.model).toBe("gpt-4o");
});

test("a name that is no alias is routed as sent, the body untouched", async () => {
  const k = kit(kitConfig(upstreams("a") + ALIAS));
  const ex = k.exchange("/api/generate");
  const body = { model: "other:1b", prompt: "hi" };
  expect(await readRequest(ex, post("/api/generate", body), unbounded())).toBeNull();
  expect(ex.model).toBe("other:1b");
  expect(ex.aliasOf).toBeNull();
  expect(dec.decode(ex.payload as Uint8Array)).toBe(JSON.stringify(body));
});

test("an OpenAI stream is asked for its usage (stripped later for the client); one that asked keeps its body", async () => {
  const k = kit(kitConfig(upstreams("a")));
  const ex = k.exchange("/v1/chat/completions");
  expect(await readRequest(ex, post("/v1/chat/completions", { model: "m", stream: true, messages: [] }), unbounded())).toBeNull();
  expect(ex.sseStream).toBe(true);
  expect(ex.stripper).not.toBeNull();
  expect(JSON.parse(dec.decode(ex.payload as Uint8Array)).stream_options).toEqual({ include_usage: true });
  const asked = k.exchange("/v1/chat/completions");
  const body = { model: "m", stream: true, stream_options: { include_usage: true }, messages: [] };
  expect(await readRequest(asked, post("/v1/chat/completions", body), unbounded())).toBeNull();
  expect(asked.stripper).toBeNull();
  expect(dec.decode(asked.payload as Uint8Array)).toBe(JSON.stringify(body));
});

test("a local POST without framing is refused in the request's dialect (OpenAI's on /v1), and nothing is recorded", async () => {
  const k = kit(kitConfig(upstreams("a")));
  const ex = k.exchange("/v1/chat/completions");
  const res = (await readRequest(ex, new Request("http://broker/v1/chat/completions", { method: "POST" }), unbounded()))!;
  expect(res.status).toBe(400);
  const j = (await res.json()) as { error: { code: string; message: string } };
  expect(j.error.code).toBe("bad_request");
  expect(j.error.message).toContain("no Content-Length or Transfer-Encoding");
  expect(records(k)).toEqual([]);
});

test("a body naming the model twice is refused in Ollama's shape on /api, and its replay bytes are given back", async () => {
  const k = kit(kitConfig(upstreams("a")));
  const budget = unbounded();
  const ex = k.exchange("/api/chat");
  const text = '{"model":"a","model":"b"}';
  const res = (await readRequest(ex, new Request("http://broker/api/chat", { method: "POST", body: text }), budget))!;
  expect(res.status).toBe(400);
  expect(typeof ((await res.json()) as { error: unknown }).error).toBe("string");
  expect(budget.held).toBe(0);
  expect(records(k)).toEqual([]);
});
