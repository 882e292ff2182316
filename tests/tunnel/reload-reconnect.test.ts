// A reload that moves the tunnel while it is reconnecting to a relay that went away (and during a burst of reloads):
// one agent at the new relay, and no retry loop of an earlier config still knocking at the old address.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";
import { cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc } from "./helpers.ts";

let fake: FakeOllama;
beforeAll(async () => {
  fake = await startFakeOllama({ tokens: 1 });
});
afterAll(async () => {
  await fake?.stop();
});

const wsUrl = (httpUrl: string) => `${httpUrl.replace(/^http/, "ws")}/agent`;

test("relay gone, agent retrying: reloads that change [tunnel] (10 in a row, the last to another relay) leave one agent, at the new relay", async () => {
  const a = await startRelayProc(relayToml());
  const b = await startRelayProc(relayToml());
  const toml = (url: string, extra = "") => daemonToml({ upstream: fake.url, relayUrl: url, backoff: ["200ms", "400ms"] }) + extra;
  const daemon = await startAgentDaemon(toml(wsUrl(a.url)));
  // Where relay A was, a listener that counts the agent's attempts (and ends each one).
  let knocks = 0;
  let sink: ReturnType<typeof Bun.listen> | null = null;
  try {
    await a.stop();
    sink = Bun.listen({ hostname: "127.0.0.1", port: a.port, socket: { open: (s) => void (knocks++, s.end()), data() {} } });
    await until(() => knocks >= 2, 10_000, "the agent to retry relay A");
    // Each reload changes [tunnel] (a new supervisor each time), still pointing at A; the last moves to B.
    for (let i = 0; i < 10; i++) {
      await Bun.write(daemon.configFile, toml(`${wsUrl(`http://127.0.0.1:${a.port}`)}?try=${i}`));
      daemon.proc.kill("SIGHUP");
      await Bun.sleep(30);
    }
    await Bun.write(daemon.configFile, toml(wsUrl(b.url)));
    daemon.proc.kill("SIGHUP");
    await b.waitFor(/relay: agent connected/, 10_000);
    // An attempt already under way at the reload may still land; a retry loop left running would knock every 200-400 ms.
    await Bun.sleep(500);
    const after = knocks;
    await Bun.sleep(2000);
    expect(knocks).toBe(after);
    expect(b.count(/relay: agent connected/)).toBe(1);
    expect(b.count(/agent disconnected/)).toBe(0);
  } finally {
    sink?.stop(true);
    await daemon.stop();
    await b.stop();
    cleanup(a.dir, b.dir, daemon.home);
  }
}, 40_000);
