// A key with a model list and model management builds models only from what it may use: through a real daemon (and a
// real relay) in front of a fake Ollama that keeps blobs as Ollama does, and with the official ollama client.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Ollama } from "ollama";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { BUN, REPO, TEST_DAEMON_TOML, removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

const SECRET = "secret:70b";
/** The forbidden model's weights: on the machine (it was pulled), their digest public (ollama.com lists it). */
const SECRET_WEIGHTS = new TextEncoder().encode("GGUF the weights of a model the key may not run");
const sha256 = (b: Uint8Array) => `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;
const SECRET_DIGEST = sha256(SECRET_WEIGHTS);
/** Weights the limited key has itself: 3 MiB, more than one read, so an upstream answering before it read them all is met. */
const mine = (where: string) => new Uint8Array(3 * 1024 * 1024).fill(where === "broker" ? 42 : 43);

let fake: FakeOllama;
let relay: RelayProc;
let d: DaemonProc;
let broker: string;
let viaRelay: string;
/** "limited" may use ok-* and manage models; "full" manages every model (no list). */
const keys = { limited: "", full: "" };

beforeAll(async () => {
  fake = await startFakeOllama({ models: [SECRET, "ok-base:1b"], blobStore: true, tokens: 2 });
  fake.blobs.add(SECRET_DIGEST);
  relay = await startRelayProc(relayToml());
  d = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: "allow_model_management = true" }));
  await d.waitFor(/broker: .*listening.* url=/);
  broker = d.urls.broker!;
  viaRelay = `${relay.url}/t/${TUNNEL_ID}`;
  const key = (...args: string[]) => {
    const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", "create", ...args], { env: d.env, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
    return r.stdout.toString().trim();
  };
  keys.limited = key("limited", "--models", "ok-*", "--allow-model-management");
  keys.full = key("full", "--allow-model-management");
  await until(async () => (await fetch(`${broker}/api/tags`, { headers: { "x-api-key": keys.full } })).status === 200, 5000, "the daemon to see the keys");
}, 60_000);

afterAll(async () => {
  await d?.stop();
  await relay?.stop();
  await fake?.stop();
  cleanup(relay?.dir, d?.home);
});

/** Through the relay the agent removes Authorization (the relay's): the gateway key goes in x-api-key there. */
const as = (k: string, base: string): Record<string, string> => (base === broker ? { authorization: `Bearer ${k}` } : { authorization: `Bearer ${CLIENT_KEY}`, "x-api-key": k });
const reached = (path: string) => fake.requests.filter((r) => r.path === path).length;

async function send(base: string, method: string, path: string, key: string, body?: string | Uint8Array) {
  const before = reached(path);
  const r = await fetch(`${base}${path}`, { method, headers: { "content-type": "application/json", ...as(key, base) }, body: body as BodyInit | undefined });
  const text = await r.text();
  let json: any = text;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, body: json, code: r.headers.get("x-c2l-error-code"), reached: reached(path) > before };
}

describe("a key with a model list builds no model from another model's weights", () => {
  for (const where of ["broker", "relay"] as const)
    test(`files, adapters or draft_files naming the blob of a model it may not use are 403 naming the field and digest, and reach nothing (${where})`, async () => {
      const base = where === "broker" ? broker : viaRelay;
      for (const field of ["files", "adapters", "draft_files"]) {
        const r = await send(base, "POST", "/api/create", keys.limited, JSON.stringify({ model: "ok-new", ...(field === "files" ? {} : { from: "ok-base:1b" }), [field]: { "model.gguf": SECRET_DIGEST } }));
        expect({ field, status: r.status, code: r.code, reached: r.reached }).toEqual({ field, status: 403, code: "forbidden", reached: false });
        expect(r.body.error).toContain(`"${field}" names blob ${SECRET_DIGEST}, which this key did not upload: upload the file with POST /api/blobs/${SECRET_DIGEST} using this key`);
      }
      // An old-style Modelfile naming the blob (or a path) is not read by the broker: refused, saying what to send instead.
      for (const modelfile of [`FROM @${SECRET_DIGEST}`, "FROM /root/.ollama/models/blobs/x"]) {
        const r = await send(base, "POST", "/api/create", keys.limited, JSON.stringify({ model: "ok-new", modelfile }));
        expect([r.status, r.code, r.reached]).toEqual([403, "forbidden", false]);
        expect(r.body.error).toContain(`"modelfile" names models and files the broker does not read: name them as fields instead, "from" (a model this key may use) or "files" and "adapters" (blobs this key uploaded with POST /api/blobs/sha256:…)`);
      }
      // Whether the machine has that blob is not the key's to learn: Ollama's "not found", the upstream not asked.
      const head = await send(base, "HEAD", `/api/blobs/${SECRET_DIGEST}`, keys.limited);
      expect([head.status, head.code, head.reached]).toEqual([404, "not_found", false]);
      // Ollama answers an upload of a blob it has 200 without reading it: an upload of other bytes (or none) under the
      // digest proves nothing, and the blob stays not the key's.
      for (const body of [new TextEncoder().encode("not those weights"), undefined]) {
        const up = await send(base, "POST", `/api/blobs/${SECRET_DIGEST}`, keys.limited, body);
        expect([up.status, up.reached]).toEqual([200, true]);
      }
      const after = await send(base, "POST", "/api/create", keys.limited, JSON.stringify({ model: "ok-new", files: { "model.gguf": SECRET_DIGEST } }));
      expect([after.status, after.reached]).toEqual([403, false]);
      // The official client's create with adapters: the same refusal, as its ResponseError.
      const ollama = new Ollama({ host: base, headers: as(keys.limited, base) });
      const err = await ollama.create({ model: "ok-new", from: "ok-base:1b", adapters: { "lora.gguf": SECRET_DIGEST } }).then(
        () => null,
        (e: { status_code?: number; message: string }) => e,
      );
      expect(err?.status_code).toBe(403);
      expect(err?.message).toContain(`"adapters" names blob ${SECRET_DIGEST}`);
      expect(fake.options.models).not.toContain("ok-new");
    }, 30_000);

  test("a key without a model list keeps building from any blob, and probing them (as before)", async () => {
    const head = await send(broker, "HEAD", `/api/blobs/${SECRET_DIGEST}`, keys.full);
    expect([head.status, head.reached]).toEqual([200, true]);
    const r = await send(broker, "POST", "/api/create", keys.full, JSON.stringify({ model: "anything:1b", files: { "model.gguf": SECRET_DIGEST } }));
    expect([r.status, r.reached]).toEqual([200, true]);
  });
});

describe("a key with a model list builds models from the blobs it uploaded itself", () => {
  for (const where of ["broker", "relay"] as const)
    test(`upload its own GGUF, create a model from it with the official ollama client, and run it (${where})`, async () => {
      const base = where === "broker" ? broker : viaRelay;
      const name = `ok-mine-${where}`;
      const MINE = mine(where);
      const MINE_DIGEST = sha256(MINE);
      // On this machine the blob is there already (another key, or the owner, imported the same file): Ollama then
      // answers the upload 200 before reading its body. Through the relay it is new: read, hashed, 201.
      if (where === "broker") fake.blobs.add(MINE_DIGEST);
      const ollama = new Ollama({ host: base, headers: as(keys.limited, base) });
      // Not its blob yet: not found to it, and not one it may build from.
      const before = await send(base, "HEAD", `/api/blobs/${MINE_DIGEST}`, keys.limited);
      expect(before.status).toBe(404);
      // Its upload: the broker reads and hashes all of it either way, so the key proves it has the file.
      const up = await fetch(`${base}/api/blobs/${MINE_DIGEST}`, { method: "POST", headers: as(keys.limited, base), body: MINE });
      expect(up.status).toBe(where === "broker" ? 200 : 201);
      const head = await send(base, "HEAD", `/api/blobs/${MINE_DIGEST}`, keys.limited);
      expect([head.status, head.reached]).toEqual([200, true]);
      // ollama-js 0.6's CreateRequest has no `files` in its type, but sends every field it is given.
      const request = { model: name, files: { "model.gguf": MINE_DIGEST } };
      const created = await ollama.create(request as { model: string });
      expect(created.status).toBe("success");
      expect(fake.options.models).toContain(name);
      const chat = await ollama.chat({ model: name, messages: [{ role: "user", content: "hi" }] });
      expect(chat.message.content.length).toBeGreaterThan(0);
      // Its own blob as an adapter, in Ollama's other spelling of a digest, on a model it may use.
      const adapter = await send(base, "POST", "/api/create", keys.limited, JSON.stringify({ model: `${name}-lora`, from: "ok-base:1b", adapters: { "lora.gguf": MINE_DIGEST.replace(":", "-") }, stream: false }));
      expect([adapter.status, adapter.reached]).toEqual([200, true]);
      // Still not a model outside its list, whatever it builds from.
      const outside = await send(base, "POST", "/api/create", keys.limited, JSON.stringify({ model: "not-ok", files: { "model.gguf": MINE_DIGEST } }));
      expect([outside.status, outside.reached]).toEqual([403, false]);
    }, 30_000);

  test("an upload whose bytes do not hash to its digest gives the key nothing (the upstream's 400 is relayed)", async () => {
    const digest = sha256(new TextEncoder().encode("what the path claims"));
    const up = await send(broker, "POST", `/api/blobs/${digest}`, keys.limited, new TextEncoder().encode("other bytes"));
    expect([up.status, up.reached]).toEqual([400, true]);
    expect(up.body.error).toContain("digest mismatch");
    const r = await send(broker, "POST", "/api/create", keys.limited, JSON.stringify({ model: "ok-x", files: { "model.gguf": digest } }));
    expect([r.status, r.reached]).toEqual([403, false]);
  });
});

test("a key's uploads are remembered across a restart of the daemon (blobs.json beside usage.json): it creates from them without uploading again", async () => {
  const home = tempHome();
  const config = `${TEST_DAEMON_TOML}[[upstreams]]\nname = "fake"\nurl = "${fake.url}"\n`;
  let daemon: DaemonProc | null = await startDaemon({ config, home, waitFor: ["api", "broker"] });
  try {
    const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "key", "create", "kept", "--models", "ok-*", "--allow-model-management"], { env: daemon.env, stdout: "pipe", stderr: "pipe" });
    const k = r.stdout.toString().trim();
    const auth = { authorization: `Bearer ${k}` };
    const weights = new Uint8Array(64 * 1024).fill(44);
    const digest = sha256(weights);
    await until(async () => (await fetch(`${daemon!.urls.broker}/api/tags`, { headers: auth })).status === 200, 5000, "the daemon to see the key");
    expect((await fetch(`${daemon.urls.broker}/api/blobs/${digest}`, { method: "POST", headers: auth, body: weights })).status).toBe(201);
    await daemon.stop();
    expect(existsSync(join(daemon.env.XDG_STATE_HOME!, "cloudtolocalllm", "blobs.json"))).toBe(true);
    daemon = await startDaemon({ config, home, waitFor: ["api", "broker"] });
    const created = await fetch(`${daemon.urls.broker}/api/create`, { method: "POST", headers: auth, body: JSON.stringify({ model: "ok-kept", files: { "model.gguf": digest }, stream: false }) });
    expect(created.status).toBe(200);
  } finally {
    await daemon?.stop();
    removeHome(home);
  }
}, 60_000);
