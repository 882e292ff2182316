// Failover through a real daemon with the official clients: when every upstream tried fails the caller hears each one's
// reason, the failover stops at max_attempts, and a client leaving during a failover stops the upstream it reached.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { startBroker, upstreamToml } from "./harness.ts";

let gone: FakeOllama;
let slow: FakeOllama;
let spare: FakeOllama;
let d: DaemonProc;
let broker: string;

const upstream = (name: string, url: string, extra: string) => `[[upstreams]]\nname = "${name}"\nurl = "${url}"\n${extra}\n`;
const chats = (f: FakeOllama) => f.requests.filter((r) => r.path === "/api/chat" || r.path === "/v1/chat/completions");

beforeAll(async () => {
  gone = await startFakeOllama({ models: ["m:1b"] });
  // stream:false: its head comes after all 20 tokens, 10 s, well past its first_byte_timeout.
  slow = await startFakeOllama({ models: ["m:1b"], tokens: 20, tokenDelayMs: 500 });
  spare = await startFakeOllama({ models: ["m:1b"] });
  d = await startDaemon({
    config:
      `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\nmax_attempts = 2\n[health]\ninterval = "60s"\nfailures_before_down = 50\n` +
      upstream("gone", gone.url, "priority = 1") +
      upstream("slow", slow.url, `priority = 2\nfirst_byte_timeout = "1s"`) +
      upstream("spare", spare.url, "priority = 3"),
    waitFor: ["api", "broker"],
  });
  broker = d.urls.broker!;
  await untilUpstreamsUp(d, await apiToken(d), 3);
  await gone.stop(); // refuses connections from now on; the checks (every 60 s) have not noticed
}, 40_000);
afterAll(async () => {
  await d?.stop();
  await slow?.stop();
  await spare?.stop();
  if (d) removeHome(d.home);
});

async function thrown(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("the call succeeded");
}

test("every upstream tried fails: each one's reason, in order, in the client's dialect; max_attempts bounds the failover", async () => {
  const abortsBefore = slow.aborts.length;
  const o = await thrown(new Ollama({ host: broker }).chat({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: false }));
  expect(o.status_code).toBe(504);
  expect(o.message).toMatch(/^upstream "gone" could not be reached: connection refused[^;]*; upstream "slow" sent no response within 1s \(after trying 2 upstreams\)$/);
  // The timed-out generation was cancelled at the upstream, and the third upstream was never asked (max_attempts = 2).
  await slow.waitForAborts(abortsBefore + 1, 3000);
  expect(chats(spare)).toHaveLength(0);
  const c = await thrown(
    new OpenAI({ baseURL: `${broker}/v1`, apiKey: "x", maxRetries: 0 }).chat.completions.create({ model: "m:1b", messages: [{ role: "user", content: "hi" }] }),
  );
  expect(c).toBeInstanceOf(OpenAI.APIError);
  expect(c.status).toBe(504);
  expect(c.error).toMatchObject({ code: "upstream_timeout" });
  expect(c.message).toContain('upstream "gone" could not be reached');
  expect(c.message).toContain('upstream "slow" sent no response within 1s');
  const a = await thrown(new Anthropic({ baseURL: broker, apiKey: "x", maxRetries: 0 }).messages.create({ model: "m:1b", max_tokens: 20, messages: [{ role: "user", content: "hi" }] }));
  expect(a).toBeInstanceOf(Anthropic.APIError);
  expect(a.status).toBe(504);
  expect(a.error).toMatchObject({ type: "error", error: { type: "timeout_error" } });
  expect(a.error.error.message).toMatch(/^upstream "gone" could not be reached: [^;]*; upstream "slow" sent no response within 1s \(after trying 2 upstreams\)$/);
  expect(chats(spare)).toHaveLength(0);
  expect(spare.requests.filter((r) => r.path === "/v1/messages")).toHaveLength(0);
}, 20_000);

test("a client that leaves during the failover (the first upstream refused, the second still working) stops the second at once", async () => {
  const asked = chats(slow).length;
  const abortsBefore = slow.aborts.length;
  const ac = new AbortController();
  const openai = new OpenAI({ baseURL: `${broker}/v1`, apiKey: "x", maxRetries: 0 });
  const call = thrown(openai.chat.completions.create({ model: "m:1b", messages: [{ role: "user", content: "hi" }] }, { signal: ac.signal }));
  await until(() => chats(slow).length === asked + 1, 5000, "the failover to reach the second upstream");
  ac.abort();
  expect(await call).toBeInstanceOf(OpenAI.APIUserAbortError);
  await slow.waitForAborts(abortsBefore + 1, 1000);
  expect(chats(spare)).toHaveLength(0);
}, 20_000);

test("model management is never sent on to another upstream: a delete the first answers 503 does not delete the next one's copy", async () => {
  const first = await startFakeOllama({ models: ["m:1b"] });
  const second = await startFakeOllama({ models: ["m:1b"] });
  const tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("first", first.url, "priority = 1") + upstreamToml("second", second.url, "priority = 2"));
  try {
    await tb.waitState("first", "up");
    await tb.waitState("second", "up");
    first.setHealthy(false); // every route 503 from now on; the checks (every 60 s) have not noticed
    const managed = (f: FakeOllama) => f.requests.filter((r) => ["/api/delete", "/api/pull", "/api/copy"].includes(r.path));
    const del = await fetch(`${tb.url}/api/delete`, { method: "DELETE", body: JSON.stringify({ model: "m:1b" }) });
    expect(del.status).toBe(503); // the first upstream's own answer, as it was
    const pull = await fetch(`${tb.url}/api/pull`, { method: "POST", body: JSON.stringify({ model: "m:1b", stream: false }) });
    expect(pull.status).toBe(503);
    expect(managed(first).map((r) => r.path)).toEqual(["/api/delete", "/api/pull"]);
    expect(managed(second)).toHaveLength(0);
    // A generation still fails over.
    const chat = await fetch(`${tb.url}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m:1b", messages: [], stream: false }) });
    expect(chat.status).toBe(200);
    expect(chats(second)).toHaveLength(1);
  } finally {
    await tb.stop();
    await first.stop();
    await second.stop();
  }
});

test("a model removed from the first upstream since its last check (its 404) is answered by the next that lists it; the first's list is read again", async () => {
  const first = await startFakeOllama({ models: ["m:1b", "x:1b"], tokens: 1 });
  const second = await startFakeOllama({ models: ["m:1b"], tokens: 1 });
  const tb = await startBroker(`[health]\ninterval = "60s"\n` + upstreamToml("first", first.url, "priority = 1") + upstreamToml("second", second.url, "priority = 2"));
  try {
    await tb.waitState("first", "up");
    await tb.waitState("second", "up");
    // count_tokens' 404 is a route Ollama lacks, not a stale list: the broker's estimate, the second never asked, no error counted.
    const counted = await new Anthropic({ baseURL: tb.url, apiKey: "x", maxRetries: 0 }).messages.countTokens({ model: "m:1b", messages: [{ role: "user", content: "hi there" }] });
    expect(counted.input_tokens).toBeGreaterThan(0);
    expect(first.requests.filter((r) => r.path.includes("count_tokens"))).toHaveLength(1);
    expect(second.requests.filter((r) => r.path.includes("count_tokens"))).toHaveLength(0);
    expect(tb.broker.upstream("first")!.metrics.errors).toBe(0);
    first.options.models = ["x:1b"]; // `ollama rm m:1b` on the first; the checks (every 60 s) have not noticed
    const r = await new Ollama({ host: tb.url }).chat({ model: "m:1b", messages: [{ role: "user", content: "hi" }], stream: false });
    expect(r.done).toBe(true);
    expect(chats(first)).toHaveLength(1);
    expect(chats(second)).toHaveLength(1);
    await until(() => !tb.broker.upstream("first")!.models.includes("m:1b"), 3000, "the first upstream's list to be read again");
    // A model no other upstream lists is still the upstream's own 404.
    const gone = await thrown(new Ollama({ host: tb.url }).chat({ model: "y:1b", messages: [{ role: "user", content: "hi" }], stream: false }));
    expect(gone.status_code).toBe(404);
  } finally {
    await tb.stop();
    await first.stop();
    await second.stop();
  }
});

test("a failover to an upstream that cannot take the request (generate's raw, translated): the first upstream's failure names both, not a 400", async () => {
  const first = await startFakeOllama({ models: ["m:1b"], tokens: 1, failWith503: true });
  const second = await startFakeOllama({ models: ["m:1b"], kind: "openai", tokens: 1 });
  const tb = await startBroker(upstreamToml("first", first.url, "priority = 1") + upstreamToml("second", second.url, 'kind = "openai"\npriority = 2'));
  try {
    await tb.waitState("first", "up");
    await tb.waitState("second", "up");
    const e = await thrown(new Ollama({ host: tb.url }).generate({ model: "m:1b", prompt: "<|fim|>x", raw: true, stream: false }));
    expect(e.status_code).toBe(502);
    expect(e.message).toMatch(/^upstream "first" answered 503; upstream "second" cannot take this request: .*raw.*\(after trying 2 upstreams\)$/);
    expect(chats(second)).toHaveLength(0);
  } finally {
    await tb.stop();
    await first.stop();
    await second.stop();
  }
});
