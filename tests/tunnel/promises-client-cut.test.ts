// The docs' promises about a cloud client that goes away, tried through a real relay and daemon with raw sockets: cut
// in the middle of its upload (sized, small or large, or chunked) or of its answer, more times than the tunnel's
// max_streams, or while its answer waits for the agent to come back. No cut body reaches the upstream, a cut answer
// stops the upstream's generation, and every stream slot comes back on both sides: the next calls are served, not 429.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import type { FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { metric } from "./resume-helpers.ts";
import { CLIENT_KEY, TUNNEL_ID, relayToml, type RelayProc } from "./helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";

/** The tunnel's concurrent requests at the relay: fewer than the cuts below, so one slot not given back shows as a 429. */
const MAX_STREAMS = 2;

let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;

let rig: TunnelRig;

beforeAll(async () => {
  rig = await startTunnelRig({ fake: { tokens: 40 }, relayToml: relayToml().replace("max_streams = 512", `max_streams = ${MAX_STREAMS}`) });
  ({ fake, relay, daemon } = rig);
}, 40_000);
afterAll(async () => {
  await rig?.stop();
});

/** A raw connection to the relay that sends `head` and `part` of a body, and is cut once `cutWhen` resolves. */
async function cutClient(head: string, part: Uint8Array | string, cutWhen: (sock: Socket) => Promise<void>): Promise<void> {
  const sock = connect(relay.port, "127.0.0.1");
  sock.on("error", () => {});
  await new Promise<void>((resolve) => sock.once("connect", () => resolve()));
  sock.write(head);
  sock.write(part);
  await cutWhen(sock);
  sock.destroy();
}

const requestHead = (path: string, framing: string) =>
  `POST /t/${TUNNEL_ID}${path} HTTP/1.1\r\nhost: 127.0.0.1:${relay.port}\r\nauthorization: Bearer ${CLIENT_KEY}\r\ncontent-type: application/json\r\n${framing}\r\n`;
/** The start of a generate request whose prompt runs on past what is sent. */
const bodyStart = (n: number) => `{"model":"llama3.2:1b","stream":false,"prompt":"${"x".repeat(n)}`;
/** Long enough for the relay to have the request and start it across the tunnel. */
const afterAWhile = () => Bun.sleep(150);

async function relayStreamsActive(): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  return Number(/^cloudtolocalllm_relay_streams_active (\d+)/m.exec(text)?.[1] ?? NaN);
}

async function agentStreamsActive(): Promise<number> {
  const res = await fetch(`${daemon.urls.api}/api/v1/tunnel`, { headers: { authorization: `Bearer ${await apiToken(daemon)}` } });
  return ((await res.json()) as { activeStreams: number }).activeStreams;
}

const generate = () =>
  fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, {
    method: "POST",
    headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }),
  });

const UPLOADS: { what: string; send: () => Promise<void> }[] = [
  // The relay reads a small sized body whole before it crosses (forward()'s small path).
  { what: "a small sized body", send: () => cutClient(requestHead("/api/generate", "content-length: 1000\r\n"), bodyStart(10), afterAWhile) },
  { what: "a large sized body", send: () => cutClient(requestHead("/api/generate", "content-length: 1000000\r\n"), bodyStart(200_000), afterAWhile) },
  {
    what: "a chunked body",
    send: () => {
      const chunk = bodyStart(100_000);
      return cutClient(requestHead("/api/generate", "transfer-encoding: chunked\r\n"), `${chunk.length.toString(16)}\r\n${chunk}\r\n`, afterAWhile);
    },
  },
];

test(`clients cut mid-upload (sized small and large, chunked), ${MAX_STREAMS + 1} times each: nothing reaches the upstream, every slot comes back`, async () => {
  const before = fake.requests.length;
  for (const u of UPLOADS) for (let i = 0; i <= MAX_STREAMS; i++) await u.send();
  await until(async () => (await relayStreamsActive()) === 0, 5_000, "the relay's streams to end");
  await until(async () => (await agentStreamsActive()) === 0, 5_000, "the agent's streams to end");
  // (Health checks reach the upstream meanwhile; a generate request would be one of the cut uploads.)
  expect(fake.requests.slice(before).filter((r) => r.path === "/api/generate")).toEqual([]);
  // Both slots are free: MAX_STREAMS calls at once are served.
  const statuses = await Promise.all(Array.from({ length: MAX_STREAMS }, async () => (await generate()).status));
  expect(statuses).toEqual(Array(MAX_STREAMS).fill(200));
  expect(relay.stderr()).not.toMatch(/\n\s+at |uncaught|unhandled/i);
  expect(daemon.stderr()).not.toMatch(/\n\s+at |uncaught|unhandled/i);
}, 30_000);

test(`clients cut mid-answer, ${MAX_STREAMS + 1} times: each generation stops at the upstream, every slot comes back`, async () => {
  fake.options.tokenDelayMs = 50;
  try {
    const aborts = fake.aborts.length;
    const body = JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "long" }], stream: true });
    for (let i = 0; i <= MAX_STREAMS; i++) {
      // Cut once the first token line arrived (the answer is streaming).
      await cutClient(requestHead("/api/chat", `content-length: ${body.length}\r\n`), body, (sock) => new Promise((resolve) => sock.once("data", () => resolve())));
    }
    await fake.waitForAborts(aborts + MAX_STREAMS + 1, 5_000);
    await until(async () => (await relayStreamsActive()) === 0, 5_000, "the relay's streams to end");
    await until(async () => (await agentStreamsActive()) === 0, 5_000, "the agent's streams to end");
  } finally {
    fake.options.tokenDelayMs = 0;
  }
  const statuses = await Promise.all(Array.from({ length: MAX_STREAMS }, async () => (await generate()).status));
  expect(statuses).toEqual(Array(MAX_STREAMS).fill(200));
}, 30_000);

test("a client that leaves while its answer waits for a resume: its slot comes back at once; the agent's offer is refused and the generation cancelled", async () => {
  const before = { aborts: fake.aborts.length, resumed: await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total"), unknown: await metric(relay.url, 'cloudtolocalllm_relay_resume_failed_total{reason="unknown"}') };
  // Long enough to be running still when the agent is back (60 s default windows on both sides).
  fake.options.tokens = 400;
  fake.options.tokenDelayMs = 50;
  const ctl = new AbortController();
  try {
    const res = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, {
      method: "POST",
      signal: ctl.signal,
      headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "llama3.2:1b", prompt: "long" }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    // The agent frozen past the relay's heartbeat tolerance (1.2 s): the relay holds the client's answer for a resume.
    daemon.proc.kill("SIGSTOP");
    await until(async () => ((await (await fetch(`${relay.url}/readyz`)).json()) as { tunnels: number }).tunnels === 0, 5_000, "the relay to declare the agent's session dead");
    expect(await relayStreamsActive()).toBe(1);
    // The user gives up (Stop): nobody waits for that answer any more.
    ctl.abort();
    await until(async () => (await relayStreamsActive()) === 0, 3_000, "the relay to let the abandoned answer go while the agent is away");
  } finally {
    daemon.proc.kill("SIGCONT");
  }
  // Back, the agent offers the answer; no client waits for it here, so the relay refuses and the agent stops the upstream
  // (still generating: its tokens come at their pace until then).
  try {
    await fake.waitForAborts(before.aborts + 1, 5_000);
  } finally {
    fake.options.tokens = 40;
    fake.options.tokenDelayMs = 0;
  }
  expect(await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total")).toBe(before.resumed);
  expect(await metric(relay.url, 'cloudtolocalllm_relay_resume_failed_total{reason="unknown"}')).toBe(before.unknown + 1);
  await until(async () => (await agentStreamsActive()) === 0, 5_000, "the agent's streams to end");
  const statuses = await Promise.all(Array.from({ length: MAX_STREAMS }, async () => (await generate()).status));
  expect(statuses).toEqual(Array(MAX_STREAMS).fill(200));
}, 30_000);
