// `ollama stop` on an upstream whose config sets keep_alive is model management, with the official ollama client through
// a real daemon and a real relay: a key needs --allow-model-management and the tunnel [tunnel] allow_model_management,
// as pull and delete do; a caller on this machine without a key may; nothing refused reaches the upstream.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { Ollama } from "ollama";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, BUN, REPO, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

const MODEL = "llama3.2:1b";
let fake: FakeOllama;
let relay: RelayProc;
let d: DaemonProc;
let wsUrl: string;
const keys = { runner: "", admin: "" };

/** The daemon's config: the fake upstream with the operator's keep_alive "-1" (models stay loaded), and `tunnel` lines. */
const toml = (tunnel = "") => daemonToml({ upstream: fake.url, relayUrl: wsUrl, tunnel }).replace(`url = "${fake.url}"\n`, `url = "${fake.url}"\nkeep_alive = "-1"\n`);

beforeAll(async () => {
  fake = await startFakeOllama({ models: [MODEL], tokens: 2 });
  relay = await startRelayProc(relayToml());
  wsUrl = `${relay.url.replace(/^http/, "ws")}/agent`;
  d = await startAgentDaemon(toml());
  await d.waitFor(/broker: .*listening.* url=/);
  const key = (...args: string[]) => {
    const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", "create", ...args], { env: d.env, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
    return r.stdout.toString().trim();
  };
  keys.runner = key("runner");
  keys.admin = key("admin", "--allow-model-management");
  await until(async () => (await fetch(`${d.urls.broker}/api/tags`, { headers: { "x-api-key": keys.admin } })).status === 200, 5000, "the daemon to see the keys");
}, 60_000);

afterAll(async () => {
  await d?.stop();
  await relay?.stop();
  await fake?.stop();
  cleanup(relay?.dir, d?.home);
});

const generations = () => fake.requests.filter((r) => r.path === "/api/generate" || r.path === "/api/chat");

/** `ollama stop` as the official client sends it (generate, empty prompt, keep_alive 0): the error it throws, or null; and whether it reached the upstream. */
async function stop(client: Ollama, chat = false): Promise<{ error: { status_code: number; error: string } | null; reached: any }> {
  const before = generations().length;
  let error = null;
  try {
    if (chat) await client.chat({ model: MODEL, messages: [], keep_alive: 0, stream: false });
    else await client.generate({ model: MODEL, prompt: "", keep_alive: 0, stream: false });
  } catch (e) {
    error = e as { status_code: number; error: string };
  }
  return { error, reached: generations().length > before ? generations().at(-1)!.json : null };
}

const local = (key?: string) => new Ollama({ host: d.urls.broker!, ...(key ? { headers: { authorization: `Bearer ${key}` } } : {}) });
const tunnel = () => new Ollama({ host: `${relay.url}/t/${TUNNEL_ID}`, headers: { authorization: `Bearer ${CLIENT_KEY}` } });

test("a key without --allow-model-management gets 403 in Ollama's shape for an unload, and still runs the model with the operator's keep_alive", async () => {
  for (const chat of [false, true]) {
    const r = await stop(local(keys.runner), chat);
    expect(r.error?.status_code).toBe(403);
    expect(r.error?.error).toContain(`the API key "runner" may not manage models; create a key with --allow-model-management for that`);
    expect(r.error?.error).toContain(`keep_alive`);
    expect(r.reached).toBeNull();
  }
  await local(keys.runner).generate({ model: MODEL, prompt: "hi", keep_alive: 0, stream: false });
  expect(generations().at(-1)!.json).toMatchObject({ prompt: "hi", keep_alive: -1 });
});

test("a key with --allow-model-management, and a caller on this machine without a key, unload as `ollama stop` asks", async () => {
  for (const client of [local(keys.admin), local()]) {
    const r = await stop(client);
    expect(r.error).toBeNull();
    expect(r.reached).toMatchObject({ prompt: "", keep_alive: 0 });
  }
});

test("through the tunnel an unload needs [tunnel] allow_model_management: 403 without it, passed as sent once a reload sets it", async () => {
  const refused = await stop(tunnel(), true);
  expect(refused.error?.status_code).toBe(403);
  expect(refused.error?.error).toContain("not allowed through the tunnel; set [tunnel] allow_model_management = true to allow it");
  expect(refused.reached).toBeNull();
  await Bun.write(d.configFile, toml("allow_model_management = true"));
  d.proc.kill("SIGHUP");
  await d.waitFor(/configuration reloaded.*sections=tunnel/, 5_000);
  const passed = await stop(tunnel(), true);
  expect(passed.error).toBeNull();
  expect(passed.reached).toMatchObject({ messages: [], keep_alive: 0 });
});

test("a tunnel unload waiting in the queue when a reload turns [tunnel] allow_model_management off is refused (403) when its turn comes, never reaching the upstream", async () => {
  // One slot on the upstream, so the unload waits behind a generation; the reload that follows changes [tunnel] alone.
  const oneSlot = (tunnel: string) => toml(tunnel).replace(`keep_alive = "-1"\n`, `keep_alive = "-1"\nmax_parallel = 1\n`);
  const reloaded = async (text: string) => {
    const n = d.count(/configuration reloaded/);
    await Bun.write(d.configFile, text);
    d.proc.kill("SIGHUP");
    await until(() => d.count(/configuration reloaded/) > n, 5_000, "the reload");
  };
  await reloaded(oneSlot("allow_model_management = true"));
  const token = await apiToken(d);
  const waiting = async () => ((await (await fetch(`${d.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { queue: { waiting: number } }).queue.waiting;
  fake.options.tokenDelayMs = 400;
  try {
    const holding = local().generate({ model: MODEL, prompt: "hold the slot", stream: false });
    await until(() => fake.concurrency.now === 1, 5_000, "the generation holding the slot");
    const unload = stop(tunnel(), true);
    await until(async () => (await waiting()) === 1, 5_000, "the unload to wait in the queue");
    await reloaded(oneSlot("allow_model_management = false"));
    await holding;
    const r = await unload;
    expect(r.error?.status_code).toBe(403);
    expect(r.error?.error).toContain("not allowed through the tunnel; set [tunnel] allow_model_management = true to allow it");
    expect(r.reached).toBeNull();
  } finally {
    fake.options.tokenDelayMs = 0;
  }
});

test("`key create --help` says --allow-model-management is also the right to unload a model an upstream's keep_alive keeps loaded (the 403 above sends the user there)", () => {
  const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", "create", "--help"], { env: d.env, stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode).toBe(0);
  const help = r.stdout.toString().replace(/\s+/g, " ");
  expect(help).toContain("Model management (pull, push, create, copy, delete, and an unload, as `ollama stop` sends, of a model an upstream's keep_alive keeps loaded) needs a key made with --allow-model-management.");
  expect(help).toContain("--allow-model-management may pull, push, create, copy and delete models (only those --models allows; with --models, create only from blobs this key uploaded), upload blobs, and unload (`ollama stop`) a model an upstream's keep_alive keeps loaded (default: no)");
});
