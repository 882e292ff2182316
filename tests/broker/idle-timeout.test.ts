// [proxy] idle_timeout on a listener beyond loopback: a connection no admitted request uses (idle after a refused call,
// a request head trickled in byte by byte: slowloris) is closed; an admitted request is never cut, however long it is
// silent. The daemon listens on 0.0.0.0 with require_key = "always", so a caller on 127.0.0.1 is refused without a key.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { closedWithin, trickleHead } from "../helpers/raw-http.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { createKey, homeEnv, removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";

let fake: FakeOllama;
let d: DaemonProc;
let port: number;
let key: string;
beforeAll(async () => {
  // Two tokens 3 s apart: a silence longer than the idle timeout inside one admitted answer.
  fake = await startFakeOllama({ models: ["llama3.2:1b"], tokens: 2, tokenDelayMs: 3_000 });
  const home = tempHome();
  key = createKey({ env: homeEnv(home) }, "lan-box");
  d = await startDaemon({
    home,
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "0.0.0.0:0"\nrequire_key = "always"\nidle_timeout = "2s"\n[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n`,
    waitFor: ["api", "broker"],
  });
  port = Number(new URL(d.urls.broker!).port);
}, 30_000);
afterAll(async () => {
  await d?.stop();
  await fake?.stop();
  if (d) removeHome(d.home);
});


test("beyond loopback: an idle connection after a refused call and a trickled request head are closed; an admitted silent answer is not", async () => {
  const refused = connect(port, "127.0.0.1");
  let answer = "";
  refused.on("data", (b) => (answer += b.toString()));
  refused.write("GET /api/tags HTTP/1.1\r\nHost: box.lan\r\n\r\n");
  const { socket: trickle, stop: stopDrip } = trickleHead(port, `POST /api/generate HTTP/1.1\r\nHost: box.lan\r\nX-Pad: ${"a".repeat(200)}`);
  const stream = fetch(`http://127.0.0.1:${port}/api/generate`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi" }),
  }).then(async (r) => ({ status: r.status, body: await r.text() }));
  try {
    const [idle, slow, done] = await Promise.all([closedWithin(refused, 10_000), closedWithin(trickle, 30_000), stream]);
    expect(answer).toStartWith("HTTP/1.1 401");
    expect(idle).not.toBeNull();
    expect(slow).not.toBeNull();
    expect(done.status).toBe(200);
    const lines = done.body.trim().split("\n").map((l) => JSON.parse(l) as { done?: boolean; error?: string });
    expect(lines.filter((l) => l.error)).toEqual([]);
    expect(lines.at(-1)!.done).toBe(true);
  } finally {
    stopDrip();
    refused.destroy();
    trickle.destroy();
  }
}, 45_000);
