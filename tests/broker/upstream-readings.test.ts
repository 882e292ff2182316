// What the broker decides on is what each kind of upstream will read: bodies and request paths, through a real daemon
// in front of four fakes that each parse as their server does (tests/helpers/fake-kinds/body-reading.ts: Ollama's Go
// decoder with its case folding, vLLM's Python json, llama.cpp's nlohmann and cpp-httplib, LM Studio's JSON.parse).
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { KindName } from "../../src/kinds/index.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, createKey, removeHome, startDaemon, untilUpstreamsUp, type DaemonProc } from "../helpers/daemon.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { until } from "../helpers/until.ts";

/** Per kind: its fake, and the model a key may run there ("ok-…") beside one it may not ("no-…"). */
const KINDS: { kind: KindName; ok: string; no: string }[] = [
  { kind: "ollama", ok: "ok-g:1b", no: "no-g:1b" },
  { kind: "vllm", ok: "ok-v", no: "no-v" },
  { kind: "llamacpp", ok: "ok-l", no: "no-l" },
  { kind: "lmstudio", ok: "ok-s", no: "no-s" },
];
const fakes = new Map<KindName, FakeOllama>();
let d: DaemonProc;
let broker: string;
let port: number;
/** Limited to the ok-… models, without --allow-model-management. */
let limited: string;

beforeAll(async () => {
  for (const k of KINDS) fakes.set(k.kind, await startFakeOllama({ models: [k.ok, k.no], kind: k.kind, tokens: 2, routeDecoded: true }));
  d = await startDaemon({
    config:
      `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n` +
      // The Ollama upstream keeps its models loaded (keep_alive): an unload is model management there.
      KINDS.map((k) => `[[upstreams]]\nname = "${k.kind}"\nkind = "${k.kind}"\nurl = "${fakes.get(k.kind)!.url}"\n${k.kind === "ollama" ? 'keep_alive = "-1"\n' : ""}`).join(""),
    waitFor: ["api", "broker"],
  });
  broker = d.urls.broker!;
  port = Number(new URL(broker).port);
  limited = createKey(d, "limited", "--models", "ok-*");
  await until(async () => (await fetch(`${broker}/api/version`, { headers: { "x-api-key": limited } })).status !== 401, 5000, "the daemon to see the key");
  await untilUpstreamsUp(d, await apiToken(d), KINDS.length);
}, 40_000);

afterAll(async () => {
  await d?.stop();
  for (const f of fakes.values()) await f.stop();
  if (d) removeHome(d.home);
});

const enc = new TextEncoder();
const bytes = (...parts: (string | number[])[]): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === "string" ? enc.encode(p) : Uint8Array.from(p)))));
const MSGS = '"messages":[{"role":"user","content":"hi"}]';

/**
 * Bodies whose model one parser reads differently from another: a second spelling (case, an escaped key), a duplicate,
 * data after the object, a comment, Python's NaN, another encoding, invalid UTF-8, a byte-order mark, a model nested
 * elsewhere. `ok` is the model the key may run on that upstream, `no` one it may not.
 */
const ATTACKS: [name: string, body: (ok: string, no: string) => Uint8Array<ArrayBuffer>][] = [
  ["another case after", (ok, no) => bytes(`{"model":"${ok}",${MSGS},"ModeL":"${no}"}`)],
  ["another case before", (ok, no) => bytes(`{"MODEL":"${no}",${MSGS},"model":"${ok}"}`)],
  ["an escaped upper-case key", (ok, no) => bytes(`{"model":"${ok}",${MSGS},"\\u004dodel":"${no}"}`)],
  ["a duplicate", (ok, no) => bytes(`{"model":"${ok}",${MSGS},"model":"${no}"}`)],
  ["a duplicate spelled with an escape", (ok, no) => bytes(`{"model":"${ok}",${MSGS},"mod\\u0065l":"${no}"}`)],
  ["null then the model in another case", (ok, no) => bytes(`{"model":"${ok}",${MSGS},"Model":null,"MODEL":"${no}"}`)],
  ["a second object after the first", (ok, no) => bytes(`{"model":"${ok}",${MSGS}}{"model":"${no}",${MSGS}}`)],
  ["a comment", (ok, no) => bytes(`{"model":"${ok}",${MSGS}/*,"model":"${no}"*/}`)],
  ["NaN beside the model", (ok) => bytes(`{"model":"${ok}",${MSGS},"temperature":NaN}`)],
  ["UTF-16 (Python reads it)", (_ok, no) => new Uint8Array(Buffer.from(`{"model":"${no}",${MSGS}}`, "utf16le"))],
  ["UTF-16 with its byte-order mark", (_ok, no) => bytes([0xff, 0xfe], [...Buffer.from(`{"model":"${no}",${MSGS}}`, "utf16le")])],
  ["invalid UTF-8 in a key", (ok, no) => bytes(`{"model":"${ok}",${MSGS},"mod`, [0xff], `el":"${no}"}`)],
  ["invalid UTF-8 in the model", (ok) => bytes(`{"model":"${ok}`, [0xe2, 0x82], `",${MSGS}}`)],
  ["a UTF-8 byte-order mark", (ok) => bytes([0xef, 0xbb, 0xbf], `{"model":"${ok}",${MSGS}}`)],
  ["the model nested in options and a message", (ok, no) => bytes(`{"options":{"model":"${no}"},"messages":[{"role":"user","content":"hi","model":"${no}"}],"model":"${ok}"}`)],
  ["a lone surrogate in the model", (ok) => bytes(`{"model":"${ok}\\ud800",${MSGS}}`)],
];

test("every body whose model two parsers read differently is refused, or reaches an upstream that reads the model the key may run, on every kind", async () => {
  const outcomes: string[] = [];
  for (const k of KINDS) {
    const fake = fakes.get(k.kind)!;
    const routes = k.kind === "ollama" ? ["/v1/chat/completions", "/api/chat"] : ["/v1/chat/completions"];
    for (const route of routes)
      for (const [name, body] of ATTACKS) {
        const before = fake.requests.length;
        const r = await fetch(`${broker}${route}`, { method: "POST", headers: { "x-api-key": limited, "content-type": "application/json" }, body: body(k.ok, k.no) });
        const text = await r.text();
        const reached = fake.requests.slice(before).filter((q) => q.path === route);
        // What the upstream read (its own parser): never a model off the key's list.
        const read = reached.map((q) => (q.json as { model?: unknown } | undefined)?.model);
        const ranForbidden = read.some((m) => typeof m === "string" && !m.startsWith("ok-"));
        expect({ kind: k.kind, route, name, ranForbidden }).toEqual({ kind: k.kind, route, name, ranForbidden: false });
        // The broker's refusal (its error code header) is in the caller's dialect, and the upstream never asked; any
        // other answer is the upstream's own (its parser's 400, or the model it ran).
        const refusedHere = r.headers.get("x-c2l-error-code") !== null;
        if (refusedHere) expect({ kind: k.kind, name, reached: reached.length, json: typeof JSON.parse(text) }).toEqual({ kind: k.kind, name, reached: 0, json: "object" });
        outcomes.push(`${k.kind} ${route} ${name}: ${refusedHere ? "refused " : ""}${r.status}${reached.length ? ` upstream read ${JSON.stringify(read)}` : ""}`);
      }
  }
  // The ambiguous ones are refused naming the field, for every kind alike (no upstream's reading is guessed).
  const refused = (name: string) => outcomes.filter((o) => o.includes(` ${name}: refused 400`)).length;
  for (const name of ["another case after", "another case before", "an escaped upper-case key", "a duplicate", "a duplicate spelled with an escape", "null then the model in another case", "a second object after the first", "a comment", "NaN beside the model", "UTF-16 (Python reads it)", "UTF-16 with its byte-order mark", "invalid UTF-8 in the model", "a lone surrogate in the model"])
    expect({ name, refused: refused(name) }).toEqual({ name, refused: 5 });
});

test("a field the broker acts on, spelled with a character Go folds onto a letter (the Kelvin sign for k, the long s for s), is refused: Ollama would read it", async () => {
  const go = fakes.get("ollama")!;
  const cases: [route: string, body: string, field: string][] = [
    ["/api/chat", `{"model":"ok-g:1b",${MSGS},"stream":false,"\u017ftream":true}`, "stream"],
    ["/v1/chat/completions", `{"model":"ok-g:1b",${MSGS},"max_tokens":5,"max_to\u212aen\u017f":100000}`, "max_tokens"],
    ["/api/generate", `{"model":"ok-g:1b","prompt":"hi","options":{"num_predict":5},"OPTION\u017f":{"num_predict":100000}}`, "options"],
  ];
  for (const [route, body, field] of cases) {
    const before = go.requests.length;
    const r = await fetch(`${broker}${route}`, { method: "POST", headers: { "x-api-key": limited, "content-type": "application/json" }, body });
    const j = await r.json();
    expect({ route, status: r.status, message: j.error?.message ?? j.error }).toEqual({ route, status: 400, message: expect.stringContaining(`names "${field}" also as`) });
    expect(go.requests.length).toBe(before);
  }
  // The fake reads them as Go does: straight to it, the folded spelling is the field (the last one wins).
  const direct = await fetch(`${go.url}/api/chat`, { method: "POST", body: `{"model":"ok-g:1b",${MSGS},"stream":true,"\u017ftream":false}` });
  expect(((await direct.json()) as { done?: boolean }).done).toBe(true);
});

test("keep_alive spelled as Go folds it (the Kelvin sign, upper case), before or after the plain one: an unload is refused without --allow-model-management, and any other call runs with the operator's keep_alive as Ollama reads it", async () => {
  const go = fakes.get("ollama")!;
  const K = "\u212a";
  const unloads = [
    `{"model":"ok-g:1b","messages":[],"${K}eep_alive":0}`,
    `{"model":"ok-g:1b","messages":[],"keep_alive":"5m","KEEP_ALIVE":0}`,
    `{"model":"ok-g:1b","MESSAGES":[],"${K}EEP_ALIVE":"0s","stream":false}`,
    // Go takes the last spelling of prompt: "" (nothing to run).
    `{"model":"ok-g:1b","prompt":"hi","PROMPT":"","${K}EEP_ALIVE":0,"stream":false}`,
  ];
  for (const body of unloads) {
    const before = go.requests.length;
    const r = await fetch(`${broker}${body.includes("prompt") ? "/api/generate" : "/api/chat"}`, { method: "POST", headers: { "x-api-key": limited }, body });
    expect({ body, status: r.status, error: ((await r.json()) as { error: string }).error }).toEqual({ body, status: 403, error: expect.stringContaining("keep_alive") });
    expect(go.requests.length).toBe(before);
  }
  const runs = [
    `{"model":"ok-g:1b",${MSGS},"${K}eep_alive":0,"stream":false}`,
    `{"model":"ok-g:1b","messages":[],"${K}eep_alive":0,"keep_alive":"5m","stream":false}`,
    `{"model":"ok-g:1b","PROMPT":"","prompt":"hi","${K}EEP_ALIVE":0,"stream":false}`,
  ];
  for (const body of runs) {
    const before = go.requests.length;
    const route = body.includes("prompt") ? "/api/generate" : "/api/chat";
    const r = await fetch(`${broker}${route}`, { method: "POST", headers: { "x-api-key": limited }, body });
    expect({ body, status: r.status }).toEqual({ body, status: 200 });
    // What Ollama read: the operator's keep_alive, whichever spelling the caller used.
    expect({ body, read: go.requests.slice(before).map((q) => (q.json as { keep_alive?: unknown }).keep_alive) }).toEqual({ body, read: [-1] });
  }
});

/** Each kind's model-management routes, and spellings of them its router, or another's, may route as them. */
const MANAGEMENT: { kind: KindName; route: string; spellings: string[] }[] = [
  { kind: "llamacpp", route: "/models/load", spellings: ["/models/%u006coad", "/%u006dodels/load", "/models%u002fload", "/models/%u004coad", "/models/%6coad", "/models%2Fload", "//models/load", "/models/./load", "/v1/../models/load", "/MODELS/load", "/models/load/"] },
  { kind: "ollama", route: "/api/pull", spellings: ["/api/%u0070ull", "/api//pull", "/api/./pull", "/v1/../api/pull", "/api%2Fpull", "/api/%70ull", "/API/pull", "/api/pull/"] },
  { kind: "vllm", route: "/v1/load_lora_adapter", spellings: ["/v1/load%5flora_adapter", "/v1/%u006coad_lora_adapter", "/v1%2Fload_lora_adapter", "//v1/load_lora_adapter", "/V1/load_lora_adapter", "/v1/load_lora_adapter/"] },
  { kind: "lmstudio", route: "/api/v1/models/load", spellings: ["/api/v1/models/%6coad", "/api/v1/models/%u006coad", "/api/v1//models/load", "/API/V1/MODELS/LOAD"] },
];

test("no spelling of a management route reaches it without --allow-model-management, on any kind: cpp-httplib's %uXXXX, Go's cleaned and unescaped paths, uvicorn's unquoting, case", async () => {
  const body = JSON.stringify({ model: "ok-l", lora_name: "ok-v", lora_path: "/tmp/x" });
  const routedThere: string[] = [];
  for (const m of MANAGEMENT) {
    const fake = fakes.get(m.kind)!;
    const fakePort = Number(new URL(fake.url).port);
    for (const target of m.spellings) {
      // Straight to the fake: the spellings its server routes as the management route (what the broker must refuse).
      const before = fake.requests.length;
      await rawRequest(fakePort, "POST", target, { body });
      if (fake.requests.slice(before).some((q) => q.routed === m.route)) routedThere.push(`${m.kind} ${target}`);
      // Through the broker: 403 naming the route, whichever upstream it would go to; nothing reaches a management route.
      const seen = [...fakes.values()].map((f) => f.requests.length);
      const r = await rawRequest(port, "POST", target, { headers: { "x-api-key": limited }, body });
      expect({ target, status: r.status }).toEqual({ target, status: 403 });
      expect({ target, body: r.body }).toEqual({ target, body: expect.stringContaining(`may not manage models (${m.route})`) });
      expect({ target, reached: [...fakes.values()].flatMap((f, i) => f.requests.slice(seen[i]).map((q) => q.path)) }).toEqual({ target, reached: [] });
    }
  }
  // The fakes route these as their servers do: llama.cpp's cpp-httplib decodes %uXXXX (the spelling the broker let
  // through before), uvicorn and Go decode %XX; Go's ServeMux answers the unclean ones with a redirect instead.
  expect(routedThere).toEqual(expect.arrayContaining(["llamacpp /models/%u006coad", "llamacpp /%u006dodels/load", "llamacpp /models%u002fload", "llamacpp /models/%6coad", "ollama /api%2Fpull", "ollama /api/%70ull", "vllm /v1/load%5flora_adapter"]));
});
