// docs/broker.md: reasons "name the upstream, never its URL, as they also reach callers in error bodies"; docs/api.md:
// URLs are shown with their secrets hidden everywhere. Attacked with a real daemon whose upstream (reached through fetch:
// an https one, or http with credentials) answers with bytes that are not HTTP: Bun words that failure
// `Malformed_HTTP_Response fetching "<the URL>"`, and that URL (the upstream's address, its path, its query) reached every
// caller's error body, a cloud caller's through the tunnel too, and the open status other local users read.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { TEST_DAEMON_TOML, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

/** What only the config may hold: a path prefix and a query value of the upstream's URL. */
const PATH_SECRET = "gw-7Hq2pathsecret";
const QUERY_SECRET = "qs-9Zt4querysecret";
let garbage: { port: number; stop(closeActive?: boolean): void };
let d: DaemonProc;

beforeAll(async () => {
  // A box on the LAN that answers every request with something that is not HTTP (a wrong port, a broken proxy).
  garbage = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(s) {
        s.end("HELLO THIS IS NOT HTTP\r\n\r\n");
      },
    },
  });
  d = await startDaemon({
    config: `${TEST_DAEMON_TOML}[health]
interval = "1s"
[[upstreams]]
name = "lan"
url = "http://svc:pw@127.0.0.1:${garbage.port}/${PATH_SECRET}?token=${QUERY_SECRET}"
`,
    waitFor: ["api", "broker"],
  });
}, 30_000);

afterAll(async () => {
  await d?.stop();
  garbage?.stop(true);
  if (d) removeHome(d.home);
});

test("an upstream that answers with what is not HTTP: callers and the open status get its name and the reason, never its address, path or query", async () => {
  const address = `127.0.0.1:${garbage.port}`;
  const chat = (stream: boolean) => JSON.stringify({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi" }], stream });
  const json = { "content-type": "application/json" };
  const answers: Record<string, string> = {};
  for (const [label, path, init] of [
    ["ollama chat", "/api/chat", { method: "POST", headers: json, body: chat(false) }],
    ["ollama chat stream", "/api/chat", { method: "POST", headers: json, body: chat(true) }],
    ["openai chat", "/v1/chat/completions", { method: "POST", headers: json, body: chat(false) }],
    ["ollama list", "/api/tags", undefined],
    ["openai list", "/v1/models", undefined],
  ] as const) {
    const r = await fetch(`${d.urls.broker}${path}`, init);
    answers[label] = `${r.status} ${await r.text()}`;
  }
  // The open status (no token: what every local user reads) once a health check has failed too.
  let upstream = { lastError: null as string | null };
  await until(async () => {
    const st = (await (await fetch(`${d.urls.api}/api/v1/status`)).json()) as { upstreams: { name: string; lastError: string | null }[] };
    upstream = st.upstreams.find((u) => u.name === "lan")!;
    return upstream.lastError !== null;
  });
  answers["status lastError"] = upstream.lastError!;
  const leaked = Object.entries(answers).filter(([, a]) => a.includes(address) || a.includes(PATH_SECRET) || a.includes(QUERY_SECRET));
  expect(leaked).toEqual([]);
  // What the caller is told still says which upstream failed and how.
  for (const label of ["ollama chat", "openai chat", "ollama list"]) {
    expect({ label, answer: answers[label] }).toEqual({ label, answer: expect.stringMatching(/^502 .*upstream \\?"lan\\?" could not be reached: its answer is not HTTP/) });
  }
}, 30_000);
