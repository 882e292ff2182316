// Secrets in upstream and relay URLs (user:password, ?api_key=, a token as user name, a fragment) appear in no output of a real
// daemon: status, upstreams, metrics, events, /ws, the dashboard's data, the sign-in's issuer, `status`, `status --json`,
// `doctor`, `whoami` and the log (issue 12 item 5).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { runCli } from "./cli.ts";

const SECRETS = { password: "s3cretPW91c", apiKey: "SECRETVALUE4d2e", userToken: "tokUSER77aa", fragment: "FRAGSECRET0b1", relayKey: "RELAYKEY5e6f", issuerKey: "ISSUERKEY3a9b" };

let fake: FakeOllama;
let d: DaemonProc;
let api: string;
let token: string;

const config = (extra = "") => `[api]
listen = "127.0.0.1:0"

[proxy]
listen = "127.0.0.1:0"

[secrets]
backend = "file"

[health]
interval = "200ms"
down_interval = "200ms"
failures_before_down = 1

[auth]
issuer = "https://127.0.0.1:9/tenant?client_secret=${SECRETS.issuerKey}"
client_id = "c2l"

[tunnel]
enabled = true
relay_url = "ws://relayuser:${SECRETS.password}@127.0.0.1:9/agent?token=${SECRETS.relayKey}"

[[upstreams]]
name = "local"
url = "${fake.url}"

[[upstreams]]
name = "keyed"
url = "http://user:${SECRETS.password}@127.0.0.1:${fake.port}/?api_key=${SECRETS.apiKey}"

[[upstreams]]
name = "tokened"
url = "http://${SECRETS.userToken}@127.0.0.1:${fake.port}/#${SECRETS.fragment}"
${extra}`;

beforeAll(async () => {
  fake = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 3 });
  d = await startDaemon({ config: config(), waitFor: ["api", "broker"] });
  api = d.urls.api!;
  token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
}, 60_000);
afterAll(async () => {
  await d?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
});

function leaked(what: string, text: string): string[] {
  return Object.entries(SECRETS)
    .filter(([, s]) => text.includes(s))
    .map(([k]) => `${what} shows ${k}`);
}

test("no output of the daemon shows a secret from an upstream, relay or issuer URL", async () => {
  const auth = { authorization: `Bearer ${token}` };
  // /ws from the start: snapshot, upstream and tunnel events, a rejected reload, metrics ticks.
  const ws = new WebSocket(api.replace("http", "ws") + "/ws", { headers: auth } as any);
  const wsText: string[] = [];
  ws.onmessage = (e) => void wsText.push(String(e.data));
  await new Promise<void>((res, rej) => ((ws.onopen = () => res()), (ws.onerror = () => rej(new Error("websocket failed")))));

  // Traffic for the metrics, the inspector and the dashboard's charts.
  const gen = await fetch(d.urls.broker + "/api/generate", { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }) });
  expect(gen.status).toBe(200);
  await gen.text();

  // `doctor` probes each upstream itself and names it by URL (run while the file is valid; again below with it rejected).
  const outputs: [string, string][] = [];
  for (const args of [["doctor", "--json"], ["doctor"], ["whoami"], ["whoami", "--json"]]) {
    const r = await runCli(d.env, ...args, "--config", d.configFile);
    outputs.push([`cli ${args.join(" ")} (valid file)`, r.out + r.err]);
  }

  // A rejected edit whose message quotes a URL with the secrets (config.rejected event, log line, status warning).
  writeFileSync(d.configFile, config(`\n[[upstreams]]\nname = "bad"\nurl = "ftp://user:${SECRETS.password}@127.0.0.1:1/?api_key=${SECRETS.apiKey}"\n`));
  await d.waitFor(/configuration rejected/);
  const until = Date.now() + 10_000;
  while (!wsText.some((t) => t.includes('"config.rejected"')) && Date.now() < until) await Bun.sleep(50);
  while (!wsText.some((t) => t.includes('"metrics.tick"')) && Date.now() < until) await Bun.sleep(50);
  ws.close();

  outputs.push(["/ws", wsText.join("\n")]);
  for (const p of [
    "/api/v1/status",
    "/api/v1/upstreams",
    "/api/v1/upstreams/keyed",
    "/api/v1/upstreams/tokened",
    "/api/v1/models",
    "/api/v1/metrics",
    "/metrics",
    "/api/v1/events",
    "/api/v1/tunnel",
    "/readyz",
    "/api/v1/dashboard/history",
    "/api/v1/requests",
    "/api/v1/config",
    "/api/v1/config/export",
    "/api/v1/auth",
  ]) {
    const r = await fetch(api + p, { headers: auth });
    outputs.push([`GET ${p} (${r.status})`, await r.text()]);
  }
  for (const p of ["/api/v1/upstreams/keyed/check", "/api/v1/reconnect"]) {
    const r = await fetch(api + p, { method: "POST", headers: auth });
    outputs.push([`POST ${p} (${r.status})`, await r.text()]);
  }
  for (const args of [["status", "--json", "--url", api], ["status", "--url", api], ["doctor", "--json"], ["doctor"]]) {
    const r = await runCli(d.env, ...args, "--config", d.configFile);
    outputs.push([`cli ${args.join(" ")}`, r.out + r.err]);
  }
  outputs.push(["daemon log", d.stderr()]);

  expect(outputs.flatMap(([what, text]) => leaked(what, text))).toEqual([]);

  // The URLs are still shown, recognisably: only the secret parts are hidden.
  const status = JSON.parse(outputs.find(([w]) => w.startsWith("GET /api/v1/status "))![1]);
  expect(status.upstreams.map((u: { url: string }) => u.url)).toEqual([
    fake.url,
    `http://user:redacted@127.0.0.1:${fake.port}/?api_key=redacted`,
    `http://redacted@127.0.0.1:${fake.port}/#redacted`,
  ]);
  expect(status.warnings.join("\n")).toContain(`ftp://user:redacted@127.0.0.1:1/?api_key=redacted`);
  const json = JSON.parse(outputs.find(([w]) => w.startsWith("cli status --json"))![1]);
  expect(json.upstreams[1].url).toBe(`http://user:redacted@127.0.0.1:${fake.port}/?api_key=redacted`);
  expect(outputs.find(([w]) => w === "/ws")![1]).toContain('"config.rejected"');
  expect(d.stderr()).toContain("api_key=redacted");
  // The issuer too, on the open GET /api/v1/auth (any local user reads it) and in `whoami`.
  expect(JSON.parse(outputs.find(([w]) => w.startsWith("GET /api/v1/auth "))![1]).issuer).toBe("https://127.0.0.1:9/tenant?client_secret=redacted");
  expect(outputs.find(([w]) => w === "cli whoami (valid file)")![1]).toBe("Not signed in to https://127.0.0.1:9/tenant?client_secret=redacted. Run `cloudtolocalllm-tunnel login`.\n");
  expect(JSON.parse(outputs.find(([w]) => w === "cli whoami --json (valid file)")![1]).issuer).toBe("https://127.0.0.1:9/tenant?client_secret=redacted");
  expect(outputs.find(([w]) => w === "cli doctor --json (valid file)")![1]).toContain(`http://user:redacted@127.0.0.1:${fake.port}/?api_key=redacted`);
}, 90_000);

test("a credential pasted into the wrong field (a key as an upstream's url) is not quoted by the rejection anywhere", async () => {
  const key = "sk-proj-PASTEDkey0123456789Abc";
  const rejected = d.count(/configuration rejected/);
  writeFileSync(d.configFile, config(`\n[[upstreams]]\nname = "pasted"\nurl = "${key}"\n`));
  await d.waitFor(/configuration rejected/);
  const start = Date.now();
  while (d.count(/configuration rejected/) <= rejected && Date.now() - start < 10_000) await Bun.sleep(50);
  const outputs: [string, string][] = [["daemon log", d.stderr()]];
  // Open to every local user, without the token.
  for (const p of ["/api/v1/status", "/api/v1/events", "/metrics"]) outputs.push([`GET ${p}`, await (await fetch(api + p)).text()]);
  const r = await runCli(d.env, "status", "--url", api, "--config", d.configFile);
  outputs.push(["cli status", r.out + r.err]);
  expect(outputs.filter(([, text]) => text.includes(key.slice(8))).map(([what]) => what)).toEqual([]);
  // The rejection still says where and what: the field, its line, and that the value is not a URL.
  const status = JSON.parse(outputs[1]![1]);
  expect(status.daemon.lastReload.error).toMatchObject({ path: "upstreams[3].url", message: '"[redacted]" is not a URL (expected http:// or https://)' });
}, 60_000);
