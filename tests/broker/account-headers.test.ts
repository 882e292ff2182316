// Through a real daemon: headers that choose whose account the operator's credential bills (OpenAI-Organization,
// OpenAI-Project, anthropic-beta, x-goog-user-project) never go with it, nor with a user and password written into the
// upstream's URL (sent as Basic auth, the operator's credential too); with neither they pass as sent.
// A client's own credential headers (Google's x-goog-api-key too) never go, with or without one.
import { afterAll, beforeAll, expect, test } from "bun:test";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";

const SECRET = "sk-operator-acct-4f1e";
const ACCOUNT = { "OpenAI-Organization": "org-caller-chosen", "OpenAI-Project": "proj_caller", "x-goog-user-project": "caller-gcp", "anthropic-beta": "context-1m-2025-08-07" };
let paid: FakeOllama;
let open: FakeOllama;
let basic: FakeOllama;
let d: DaemonProc;

beforeAll(async () => {
  paid = await startFakeOllama({ models: ["paid:latest"], tokens: 1 });
  open = await startFakeOllama({ models: ["free:latest"], tokens: 1 });
  basic = await startFakeOllama({ models: ["basic:latest"], tokens: 1 });
  d = await startDaemon({
    config:
      `${TEST_DAEMON_TOML}[health]\ninterval = "60s"\n` +
      `[[upstreams]]\nname = "paid"\nurl = "${paid.url}"\nauth_secret = "paid-key"\n` +
      `[[upstreams]]\nname = "open"\nurl = "${open.url}"\n` +
      `[[upstreams]]\nname = "basic"\nurl = "${basic.url.replace("://", "://operator:pw-acct-77c2@")}"\n`,
    env: { CLOUDTOLOCALLLM_SECRET_PAID_KEY: SECRET },
    waitFor: ["api", "broker"],
  });
}, 30_000);

afterAll(async () => {
  await d?.stop();
  await paid?.stop();
  await open?.stop();
  await basic?.stop();
  if (d) removeHome(d.home);
});

const lastGeneration = (f: FakeOllama) => f.requests.filter((r) => r.method === "POST").at(-1)!.headers;

test("OpenAI-Organization, OpenAI-Project, x-goog-user-project and anthropic-beta never go with the operator's auth_secret (openai and anthropic clients), and pass as sent when there is none", async () => {
  const oa = new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey: "caller-own", organization: "org-caller-chosen", project: "proj_caller", defaultHeaders: ACCOUNT, maxRetries: 0 });
  await oa.chat.completions.create({ model: "paid:latest", messages: [{ role: "user", content: "hi" }] });
  const toPaid = lastGeneration(paid);
  expect(toPaid.authorization).toBe(`Bearer ${SECRET}`);
  for (const name of Object.keys(ACCOUNT)) expect({ name, value: toPaid[name.toLowerCase()] }).toEqual({ name, value: undefined });

  const an = new Anthropic({ baseURL: d.urls.broker, apiKey: "caller-own", defaultHeaders: ACCOUNT, maxRetries: 0 });
  await an.messages.create({ model: "paid:latest", max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
  const messagesToPaid = lastGeneration(paid);
  expect(messagesToPaid.authorization).toBe(`Bearer ${SECRET}`);
  expect(messagesToPaid["anthropic-beta"]).toBeUndefined();
  expect(messagesToPaid["openai-organization"]).toBeUndefined();

  // No auth_secret: nothing of the operator's goes, and the headers pass as sent.
  await oa.chat.completions.create({ model: "free:latest", messages: [{ role: "user", content: "hi" }] });
  const toOpen = lastGeneration(open);
  expect(toOpen["openai-organization"]).toBe("org-caller-chosen");
  expect(toOpen["openai-project"]).toBe("proj_caller");
  expect(toOpen["x-goog-user-project"]).toBe("caller-gcp");
  expect(toOpen["anthropic-beta"]).toBe("context-1m-2025-08-07");
});

test("a user and password in the upstream's URL are the operator's credential too: OpenAI-Organization, OpenAI-Project, x-goog-user-project and anthropic-beta never go with them", async () => {
  const oa = new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey: "caller-own", organization: "org-caller-chosen", project: "proj_caller", defaultHeaders: ACCOUNT, maxRetries: 0 });
  await oa.chat.completions.create({ model: "basic:latest", messages: [{ role: "user", content: "hi" }] });
  const toBasic = lastGeneration(basic);
  expect(toBasic.authorization).toBe(`Basic ${btoa("operator:pw-acct-77c2")}`);
  for (const name of Object.keys(ACCOUNT)) expect({ name, value: toBasic[name.toLowerCase()] }).toEqual({ name, value: undefined });

  const an = new Anthropic({ baseURL: d.urls.broker, apiKey: "caller-own", defaultHeaders: ACCOUNT, maxRetries: 0 });
  await an.messages.create({ model: "basic:latest", max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
  expect(lastGeneration(basic)["anthropic-beta"]).toBeUndefined();
});

test("a client's Google key (x-goog-api-key) never reaches an upstream, beside the operator's auth_secret or without one, as Authorization, x-api-key and api-key never do", async () => {
  const google = { "x-goog-api-key": "AIza-caller-own-91d3" };
  const oa = new OpenAI({ baseURL: `${d.urls.broker}/v1`, apiKey: "caller-own", defaultHeaders: google, maxRetries: 0 });
  for (const [model, fake] of [["paid:latest", paid], ["free:latest", open], ["basic:latest", basic]] as const) {
    await oa.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] });
    expect({ model, sent: JSON.stringify(lastGeneration(fake)).includes("AIza-caller-own") }).toEqual({ model, sent: false });
  }
  expect(lastGeneration(paid).authorization).toBe(`Bearer ${SECRET}`);
});
