// Through a real daemon: an Anthropic client's model listing refused for its key (unknown, over its rate) hears it in
// Anthropic's shape, as its list is answered, not in OpenAI's (the path's); an OpenAI client's stays OpenAI's.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { createKey, removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";

let fake: FakeOllama;
let d: DaemonProc;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["m:1b"], tokens: 1 });
  d = await startDaemon({ config: `${TEST_DAEMON_TOML}[health]\ninterval = "60s"\n[[upstreams]]\nname = "one"\nurl = "${fake.url}"\n`, waitFor: ["api", "broker"] });
}, 30_000);

afterAll(async () => {
  await d?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
});

test("an Anthropic client's model listing refused for its key (unknown key, over its requests per minute) is answered in Anthropic's shape; an OpenAI client's in OpenAI's", async () => {
  const unknown = new Anthropic({ baseURL: d.urls.broker, apiKey: `c2l_${"x".repeat(43)}`, maxRetries: 0 });
  for (const call of [() => unknown.models.list(), () => unknown.models.retrieve("m:1b")]) {
    const e = await call().catch((x) => x);
    expect(e).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(e.error.type).toBe("error");
    expect(e.error.error.type).toBe("authentication_error");
  }
  const key = createKey(d, "slow", "--rpm", "1");
  const anthropic = new Anthropic({ baseURL: d.urls.broker, apiKey: key, maxRetries: 0 });
  expect((await anthropic.models.list()).data.map((m) => m.id)).toContain("m:1b");
  const over = await anthropic.models.list().catch((x) => x);
  expect(over).toBeInstanceOf(Anthropic.RateLimitError);
  expect(over.error.type).toBe("error");
  expect(over.error.error.type).toBe("rate_limit_error");
  expect(over.error.error.message).toContain('the API key "slow" is over its limit of 1 requests per minute');
  // The same refusal to an OpenAI client (no anthropic-version) is OpenAI's.
  const openai = new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey: key, maxRetries: 0 });
  const oe = await openai.models.list().catch((x) => x);
  expect(oe).toBeInstanceOf(OpenAI.RateLimitError);
  expect(oe.error.code).toBe("rate_limited");
});
