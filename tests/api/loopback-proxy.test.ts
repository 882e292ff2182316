// An HTTP proxy in the environment (HTTP_PROXY, as corporate desktops set it) never receives calls to this machine:
// not the CLI's to the control API with its token, nor the broker's to a local upstream with its key and the prompt.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { apiToken, removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { runCli } from "./cli.ts";

/** What the proxy was sent: the URL and the credentials of each call. */
const seen: string[] = [];
let proxy: ReturnType<typeof Bun.serve>;
let fake: FakeOllama;
let d: DaemonProc;
let proxyEnv: Record<string, string>;

beforeAll(async () => {
  proxy = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => (seen.push(`${req.method} ${req.url} authorization=${req.headers.get("authorization")}`), new Response("from the proxy", { status: 502 })) });
  // Both spellings, with a no-proxy list that leaves this machine out (as such environments often have).
  proxyEnv = { HTTP_PROXY: `http://127.0.0.1:${proxy.port}`, http_proxy: `http://127.0.0.1:${proxy.port}`, no_proxy: "intranet.example" };
  fake = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 2 });
  d = await startDaemon({
    config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "${fake.url}"\nauth_secret = "sk-proj-LOCALkey0123456789abcdef"\n`,
    env: proxyEnv,
    waitFor: ["api", "broker"],
  });
}, 60_000);
afterAll(async () => {
  await d?.stop();
  await fake?.stop();
  proxy?.stop(true);
  if (d) removeHome(d.home);
});

test("the CLI's calls to the daemon and the broker's to a local upstream go direct, not through HTTP_PROXY", async () => {
  const token = await apiToken(d);
  const status = await runCli({ ...d.env, ...proxyEnv }, "status", "--json", "--url", d.urls.api!);
  const gen = await fetch(`${d.urls.broker}/api/generate`, { method: "POST", body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }) });
  await gen.text();
  const models = await runCli({ ...d.env, ...proxyEnv }, "models", "--url", d.urls.api!);
  // The proxy got nothing: neither the API token nor an upstream's key nor a prompt.
  expect(seen).toEqual([]);
  expect(status.code).toBe(0);
  expect(JSON.parse(status.out).upstreams[0].name).toBe("local");
  expect(gen.status).toBe(200);
  expect(models.code).toBe(0);
  expect(token.length).toBeGreaterThan(20);
}, 60_000);
