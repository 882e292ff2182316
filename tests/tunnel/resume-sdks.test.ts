// Resumable streams as the official clients meet them through a real relay: the openai, @anthropic-ai/sdk and ollama
// npm clients streaming across a relay paused past the heartbeat tolerance get the whole text once; past the resume
// window each client's own error surface carries the relay's sentence (never a parse error or a silent end).
import { afterAll, beforeAll, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import type { DaemonProc } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";
import { metric, pauseRelayPastTolerance } from "./resume-helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";
import type { FakeOllama } from "../helpers/fake-ollama.ts";

const MODEL = "llama3.2:1b";
const TOKENS = 40;
const WHOLE = Array.from({ length: TOKENS }, (_, i) => `tok${i} `).join("");
let rig: TunnelRig;
let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;

beforeAll(async () => {
  rig = await startTunnelRig({ fake: { models: [MODEL], tokens: TOKENS, tokenDelayMs: 60 }, relayToml: relayToml({ extra: 'resume_window = "20s"' }) });
  ({ fake, relay, daemon } = rig);
}, 30_000);

afterAll(() => rig?.stop(), 30_000);

interface Outcome {
  text: string;
  complete: boolean;
  error: Error | null;
}

/** One streamed chat with each official client: the text each assembled, whether it saw its end, what it threw. */
function sdkStreams(r: RelayProc) {
  const openai = new OpenAI({ baseURL: `${r.url}/t/${TUNNEL_ID}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
  const anthropic = new Anthropic({ baseURL: `${r.url}/t/${TUNNEL_ID}`, authToken: CLIENT_KEY, apiKey: null, maxRetries: 0 });
  const ollama = new Ollama({ host: `${r.url}/t/${TUNNEL_ID}`, headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
  const messages = [{ role: "user" as const, content: "count" }];
  const texts = { openai: "", anthropic: "", ollama: "" };
  const run = async (name: keyof typeof texts, body: () => Promise<boolean>): Promise<Outcome> => {
    try {
      const complete = await body();
      return { text: texts[name], complete, error: null };
    } catch (e) {
      return { text: texts[name], complete: false, error: e as Error };
    }
  };
  const outcomes = {
    openai: run("openai", async () => {
      let done = false;
      for await (const c of await openai.chat.completions.create({ model: MODEL, messages, stream: true })) {
        texts.openai += c.choices[0]?.delta?.content ?? "";
        done ||= !!c.choices[0]?.finish_reason;
      }
      return done;
    }),
    anthropic: run("anthropic", async () => {
      const s = anthropic.messages.stream({ model: MODEL, max_tokens: TOKENS, messages });
      s.on("text", (t) => (texts.anthropic += t));
      const m = await s.finalMessage();
      return m.stop_reason !== null;
    }),
    ollama: run("ollama", async () => {
      let done = false;
      for await (const c of await ollama.chat({ model: MODEL, messages, stream: true })) {
        texts.ollama += c.message.content;
        done ||= c.done;
      }
      return done;
    }),
  };
  return {
    outcomes,
    /** Resolves once every client has a few tokens: the 200 is sent, only the stream can carry an error now. */
    started: () => until(() => Object.values(texts).every((t) => /tok2 /.test(t)) || null, 10_000, "every client's first tokens"),
  };
}

/** The daemon's request records, as the dashboard's inspector reads them. */
async function inspector() {
  const token = (await Bun.file(`${daemon.home}/.config/cloudtolocalllm/api-token`).text()).trim();
  const r = (await (await fetch(`${daemon.urls.api}/api/v1/requests`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { requests: { id: string; path: string; source: string; resumed?: { count: number } }[] };
  return r.requests;
}

async function promtoolCheck(text: string): Promise<string> {
  const p = Bun.spawn(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return `${out}${err}exit ${p.exitCode}`;
}

requireTools(["promtool"]).test("the relay paused past the heartbeat tolerance mid-stream: the openai, anthropic and ollama clients each get the whole text once, one generation each; both sides count 3 resumes and their /metrics pass promtool", async () => {
  const before = fake.requests.length;
  const aborted = fake.aborts.length;
  const apiToken = (await Bun.file(`${daemon.home}/.config/cloudtolocalllm/api-token`).text()).trim();
  const auth = { Authorization: `Bearer ${apiToken}` };
  const agentResumed = await metric(daemon.urls.api!, "cloudtolocalllm_tunnel_resumed_streams_total", auth);
  const s = sdkStreams(relay);
  await s.started();
  await pauseRelayPastTolerance(relay, daemon);
  for (const [name, o] of Object.entries(s.outcomes)) {
    const got = await o;
    expect({ name, ...got, error: got.error?.message ?? null }).toEqual({ name, text: WHOLE, complete: true, error: null });
  }
  expect(fake.requests.slice(before).filter((r) => r.method === "POST").length).toBe(3);
  expect(fake.aborts.slice(aborted)).toEqual([]);
  expect(await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total")).toBe(3);
  expect(await metric(relay.url, "cloudtolocalllm_relay_resume_failed_total")).toBe(0);
  await until(async () => (await metric(daemon.urls.api!, "cloudtolocalllm_tunnel_resumed_streams_total", auth)) - agentResumed === 3 || null, 5_000, "the agent to count 3 resumed streams");
  expect(await metric(daemon.urls.api!, "cloudtolocalllm_tunnel_resume_failed_total", auth)).toBe(0);
  expect(await promtoolCheck(await (await fetch(`${relay.url}/metrics`)).text())).toBe("exit 0");
  expect(await promtoolCheck(await (await fetch(`${daemon.urls.api}/metrics`, { headers: auth })).text())).toBe("exit 0");
}, 60_000);

const DISCONNECTED = /^tunnel "alice" disconnected in the middle of the answer \(.*\) and its agent did not resume it within 1\.5s; the answer is incomplete$/;

test("the relay paused past the resume window: each client's own error carries the relay's sentence (openai's and anthropic's APIError, ollama's Error), after the tokens it had, each once", async () => {
  const short = await startRelayProc(relayToml({ extra: 'resume_window = "1500ms"' }));
  const agent = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${short.url.replace(/^http/, "ws")}/agent`, tunnel: 'resume_window = "1500ms"' }));
  fake.options.tokens = 400;
  try {
    const s = sdkStreams(short);
    await s.started();
    short.proc.kill("SIGSTOP");
    try {
      // The agent declares the session dead, holds the answers for its window, then gives them up (the anthropic one,
      // capped by max_tokens, may have been generated whole meanwhile).
      await until(() => agent.count(/ warn tunnel: an answer was not resumed in time; its upstream request is cancelled /) >= 3 || null, 15_000, "the agent to give the three answers up");
    } finally {
      short.proc.kill("SIGCONT");
    }
    const o = { openai: await s.outcomes.openai, anthropic: await s.outcomes.anthropic, ollama: await s.outcomes.ollama };
    for (const [name, got] of Object.entries(o)) {
      expect({ name, complete: got.complete }).toEqual({ name, complete: false });
      const seen = [...got.text.matchAll(/tok(\d+) /g)].map((m) => Number(m[1]));
      expect(seen).toEqual(Array.from({ length: seen.length }, (_, k) => k));
      expect(seen.length).toBeGreaterThanOrEqual(3);
    }
    expect(o.openai.error).toBeInstanceOf(OpenAI.APIError);
    expect(o.openai.error!.message).toMatch(DISCONNECTED);
    expect((o.openai.error as InstanceType<typeof OpenAI.APIError>).code).toBe("tunnel_offline");
    expect(o.anthropic.error).toBeInstanceOf(Anthropic.APIError);
    expect((o.anthropic.error as InstanceType<typeof Anthropic.APIError>).error).toEqual({ type: "error", error: { type: "api_error", message: expect.stringMatching(DISCONNECTED) } });
    expect(o.ollama.error?.message).toMatch(DISCONNECTED);
    expect(await metric(short.url, "cloudtolocalllm_relay_resume_failed_total")).toBe(3);
    expect(await metric(short.url, "cloudtolocalllm_relay_resumed_streams_total")).toBe(0);
  } finally {
    fake.options.tokens = TOKENS;
    short.proc.kill("SIGCONT");
    await agent.stop();
    await short.stop("SIGKILL");
    cleanup(agent.home, short.dir);
  }
}, 60_000);

test("two losses in a row within the window (the relay paused again as soon as the agent was back): the three clients still get the whole text once, one generation each, and the inspector marks each answer resumed", async () => {
  const before = fake.requests.length;
  const resumed = await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total");
  const aborted = fake.aborts.length;
  const earlier = new Set((await inspector()).map((x) => x.id));
  fake.options.tokens = 80;
  try {
    const s = sdkStreams(relay);
    await s.started();
    const lost = / warn tunnel: relay connection failed; retrying .*heartbeat_timeout/;
    const back = / info tunnel: connected to the relay /;
    for (let cut = 0; cut < 2; cut++) {
      const [lostBefore, backBefore] = [daemon.count(lost), daemon.count(back)];
      relay.proc.kill("SIGSTOP");
      try {
        await until(() => daemon.count(lost) > lostBefore || null, 10_000, "the agent to declare the session dead");
        await Bun.sleep(800);
      } finally {
        relay.proc.kill("SIGCONT");
      }
      await until(() => daemon.count(back) > backBefore || null, 15_000, "the agent to be back");
    }
    for (const [name, o] of Object.entries(s.outcomes)) {
      const got = await o;
      const whole = Array.from({ length: name === "anthropic" ? TOKENS : 80 }, (_, i) => `tok${i} `).join("");
      expect({ name, ...got, error: got.error?.message ?? null }).toEqual({ name, text: whole, complete: true, error: null });
    }
    expect(fake.requests.slice(before).filter((r) => r.method === "POST").length).toBe(3);
    expect(fake.aborts.slice(aborted)).toEqual([]);
    expect(await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total")).toBeGreaterThan(resumed);
    expect(await metric(relay.url, "cloudtolocalllm_relay_resume_failed_total")).toBe(0);
    // The dashboard's inspector reads these records: each of the three answers is marked resumed, with how often.
    const paths = ["/v1/chat/completions", "/v1/messages", "/api/chat"];
    const records = await until(async () => {
      const mine = (await inspector()).filter((x) => !earlier.has(x.id) && x.source === "tunnel" && paths.includes(x.path));
      return mine.length === 3 && mine.every((x) => x.resumed) ? mine : null;
    }, 5_000, "the inspector's records of the three answers, marked resumed");
    expect(records.map((x) => x.path).sort()).toEqual([...paths].sort());
    for (const rec of records) expect(rec.resumed!.count).toBeGreaterThanOrEqual(1);
  } finally {
    fake.options.tokens = TOKENS;
  }
}, 60_000);
