// The only relay stops (its GO_AWAY reads as a planned move): the agent retries every 200 ms for up to 10 s, and its log
// says so once, not once per retry (50 lines in 10 s before).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { cleanup, daemonToml, relayToml, removeHome, startAgentDaemon, startRelayProc } from "./helpers.ts";

let fake: FakeOllama;
beforeAll(async () => {
  fake = await startFakeOllama({ tokens: 4 });
});
afterAll(async () => {
  await fake?.stop();
});

test("a stopped relay: one line says the relay is moving the tunnel, one that retries fail and how often; the rest of the quick retries are quiet", async () => {
  const relay = await startRelayProc(relayToml());
  const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, backoff: ["100ms", "400ms"] }));
  try {
    // A connection younger than a second that is sent away counts as a failure (supervisor.ts MIN_MOVE_UPTIME_MS).
    await Bun.sleep(1_200);
    await relay.stop();
    await daemon.waitFor(/the relay is moving this tunnel/, 5_000);
    await Bun.sleep(3_000);
    expect(daemon.count(/the relay is moving this tunnel/)).toBe(1);
    const failed = daemon.stderr().split("\n").filter((l) => l.includes("relay connection failed"));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(/relay connection failed; retrying every 200 ms while the relay moves \(up to 10 s\)/);
  } finally {
    await daemon.stop();
    removeHome(daemon.home);
    cleanup(relay.dir);
  }
}, 30_000);
