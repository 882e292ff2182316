// Integration: saving a change to one section while a generation streams through the broker leaves the stream alone.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { TEST_DAEMON_TOML, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";

setDefaultTimeout(30_000);

let fake: FakeOllama;
let d: DaemonProc;
const config = (extra = "") => `
${TEST_DAEMON_TOML}[[upstreams]]
name = "local"
url = "${fake.url}"
${extra}
`;

beforeAll(async () => {
  // 20 tokens, 100 ms apart: a two-second stream to edit the config under.
  fake = await startFakeOllama({ tokens: 20, tokenDelayMs: 100 });
  d = await startDaemon({ config: config(), waitFor: ["api", "broker"] });
  await d.waitFor(/daemon: started/);
});
afterAll(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
  await fake?.stop();
});

test("an [alerts] and [logging] edit mid-stream: the stream finishes whole and the change is applied", async () => {
  const res = await fetch(`${d.urls.broker}/api/generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: true }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = "";
  let edited = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
    const lines = text.split("\n").filter(Boolean).length;
    if (!edited && lines >= 3) {
      edited = true;
      writeFileSync(d.configFile, config('[alerts]\nerror_rate = 0.5\n[logging]\nlevel = "debug"\n'));
    }
  }
  expect(edited).toBe(true);
  // The reload landed while the stream was still running (it has ~1.7 s left after the save; the debounce is 150 ms).
  expect(d.stderr()).toMatch(/configuration reloaded sections=(alerts,logging|logging,alerts)/);
  const chunks = text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  expect(chunks.at(-1)).toMatchObject({ done: true });
  expect(chunks.filter((c) => !c.done)).toHaveLength(20);
  expect(fake.aborts).toHaveLength(0);
});
