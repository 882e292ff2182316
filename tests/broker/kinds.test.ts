// Each upstream kind (src/kinds/) through a real daemon, against its fake (tests/helpers/fake-kinds/, written from each
// server's docs): the probe brings it up, its models appear in /api/tags and /v1/models, its loaded models and load
// appear in GET /api/v1/upstreams, routing prefers the upstream with the model loaded or with a free slot by what the
// server reports, and `config validate` accepts each kind and names the kinds when one is unknown.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KIND_NAMES, type KindName } from "../../src/kinds/index.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { runCli } from "../api/cli.ts";

/**
 * Per kind two fakes serving one model: "pick" should get the request, "avoid" has the better priority but the model
 * not loaded (or no free slot, once `occupy` has run against it directly, as another client of that server would).
 */
interface Case {
  kind: KindName;
  model: string;
  pick: Parameters<typeof startFakeOllama>[0];
  avoid: Parameters<typeof startFakeOllama>[0];
  /** What the status shows of "pick" once probed. */
  loaded: string[];
  capacity: { slots: number | null; busy: number | null; waiting: number | null } | null;
  version: string | null;
  /** Load on "avoid" sent straight to it (not through the broker); the router must read it from the server. */
  occupy?: number;
  /** Which upstream gets the request: "pick", or "avoid" when the kind reports nothing that could tell them apart. */
  winner: "pick" | "avoid";
}

const DELAY = 20;
const CASES: Case[] = [
  { kind: "ollama", model: "o:1b", pick: { loaded: ["o:1b"], version: "0.14.2" }, avoid: { loaded: [] }, loaded: ["o:1b"], capacity: null, version: "0.14.2", winner: "pick" },
  // Nothing reported: priority decides, as before kinds.
  { kind: "openai", model: "gpt-x", pick: {}, avoid: {}, loaded: [], capacity: null, version: null, winner: "avoid" },
  { kind: "llamacpp", model: "l-7b", pick: { slots: 4, version: "6123" }, avoid: { slots: 1 }, loaded: ["l-7b"], capacity: { slots: 4, busy: 0, waiting: null }, version: "b6123-fake", occupy: 1, winner: "pick" },
  { kind: "vllm", model: "v-8b", pick: { slots: 8, version: "0.11.0" }, avoid: { slots: 1 }, loaded: ["v-8b"], capacity: { slots: null, busy: 0, waiting: 0 }, version: "0.11.0", occupy: 3, winner: "pick" },
  { kind: "lmstudio", model: "s-4b", pick: { loaded: ["s-4b"], slots: 2 }, avoid: { loaded: [] }, loaded: ["s-4b"], capacity: { slots: 2, busy: null, waiting: null }, version: null, winner: "pick" },
];

const fakes = new Map<string, FakeOllama>();
let d: DaemonProc;
let token: string;

beforeAll(async () => {
  let toml = `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n[health]\ninterval = "150ms"\ndown_interval = "150ms"\n`;
  for (const c of CASES) {
    for (const role of ["avoid", "pick"] as const) {
      const f = await startFakeOllama({ kind: c.kind, models: [c.model], tokens: 1, tokenDelayMs: DELAY, ...c[role] });
      fakes.set(`${c.kind}-${role}`, f);
      toml += `[[upstreams]]\nname = "${c.kind}-${role}"\nkind = "${c.kind}"\nurl = "${f.url}"\npriority = ${role === "avoid" ? 1 : 2}\n`;
    }
  }
  d = await startDaemon({ config: toml, waitFor: ["api", "broker"] });
  token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
}, 60_000);

afterAll(async () => {
  await d?.stop();
  for (const f of fakes.values()) await f.stop();
  if (d) removeHome(d.home);
});

const upstream = async (name: string) => (await (await fetch(`${d.urls.api}/api/v1/upstreams/${name}`, { headers: { authorization: `Bearer ${token}` } })).json()) as any;
const chat = (c: Case, maxTokens: number) =>
  fetch(`${d.urls.broker}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: c.model, messages: [{ role: "user", content: "hi" }], max_tokens: maxTokens }) });
const chats = (f: FakeOllama) => f.requests.filter((r) => r.path === "/v1/chat/completions").length;

describe.each(CASES.map((c) => [c.kind, c] as const))("kind %s", (kind, c) => {
  test("probe → up; version, models, loaded models and capacity from its own endpoints in GET /api/v1/upstreams", async () => {
    const s = await until(async () => {
      const u = await upstream(`${kind}-pick`);
      return u.state === "up" && (c.capacity === null || u.capacity) && u.loaded?.length === c.loaded.length ? u : null;
    }, 10_000, `${kind}-pick up with its loaded models and capacity`);
    expect(s.kind).toBe(kind);
    expect(s.models).toEqual([c.model]);
    expect(s.loaded).toEqual(c.loaded);
    expect(s.version).toBe(c.version);
    expect(s.capacity === null ? null : { slots: s.capacity.slots, busy: s.capacity.busy, waiting: s.capacity.waiting }).toEqual(c.capacity);
  });

  test("its models in the merged /api/tags and /v1/models (and /api/ps when it names loaded models)", async () => {
    const tags = (await (await fetch(`${d.urls.broker}/api/tags`)).json()) as { models: { name: string }[] };
    expect(tags.models.map((m) => m.name)).toContain(c.model);
    const v1 = (await (await fetch(`${d.urls.broker}/v1/models`)).json()) as { data: { id: string }[] };
    expect(v1.data.map((m) => m.id)).toContain(c.model);
    const ps = (await (await fetch(`${d.urls.broker}/api/ps`)).json()) as { models: { name: string }[] };
    // Ollama reads /api/ps, llama.cpp and vLLM list what they serve (loaded); the others name none there.
    expect(ps.models.some((m) => m.name === c.model)).toBe(kind === "ollama" || kind === "llamacpp" || kind === "vllm");
  });

  test(`routing: the request goes to the ${c.winner === "pick" ? "loaded or free" : "preferred (nothing reported)"} upstream`, async () => {
    const pick = fakes.get(`${kind}-pick`)!;
    const avoid = fakes.get(`${kind}-avoid`)!;
    const held: Promise<Response>[] = [];
    if (c.occupy) {
      // Another client of that server fills its slot (and queue): only the server's own report tells the broker.
      for (let i = 0; i < c.occupy; i++) held.push(fetch(`${avoid.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: c.model, messages: [], max_tokens: 150 }) }));
      await until(async () => {
        const cap = (await upstream(`${kind}-avoid`)).capacity;
        return cap && ((cap.busy ?? 0) >= 1 || (cap.waiting ?? 0) >= 1);
      }, 10_000, `${kind}-avoid reporting its load`);
    }
    const before = { pick: chats(pick), avoid: chats(avoid) };
    const res = await chat(c, 1);
    expect(res.status).toBe(200);
    await res.text();
    expect({ pick: chats(pick) - before.pick, avoid: chats(avoid) - before.avoid }).toEqual(c.winner === "pick" ? { pick: 1, avoid: 0 } : { pick: 0, avoid: 1 });
    for (const r of held) void r.then((x) => x.body?.cancel()).catch(() => {});
  }, 30_000);
});

test("config validate accepts every kind, and names the kinds when one is unknown", async () => {
  const dir = mkdtempSync(join(tmpdir(), "c2l-kinds-"));
  try {
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir };
    const file = join(dir, "tunnel.toml");
    writeFileSync(file, KIND_NAMES.map((k, i) => `[[upstreams]]\nname = "u${i}"\nkind = "${k}"\nurl = "http://127.0.0.1:${8000 + i}"\n`).join(""));
    const ok = await runCli(env, "config", "validate", file);
    expect(ok.err).toBe("");
    expect(ok.code).toBe(0);
    writeFileSync(file, `[[upstreams]]\nname = "tgi"\nkind = "tgi"\nurl = "http://127.0.0.1:8080"\n`);
    const bad = await runCli(env, "config", "validate", file);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("upstreams[0].kind");
    expect(bad.err).toContain(`"tgi" is not one of ${KIND_NAMES.map((k) => `"${k}"`).join(", ")}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
