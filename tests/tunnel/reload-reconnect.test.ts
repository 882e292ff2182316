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
  let sink: { stop(closeActive?: boolean): void } | null = null;
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

test("a reload that moves the tunnel while its handshake with a silent relay hangs: that socket is closed at once, not at the handshake timeout", async () => {
  // Accepts the connection and never answers: the agent's handshake waits (10 s by default).
  const open = new Set<unknown>();
  const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => void open.add(s), close: (s) => void open.delete(s), data() {} } });
  const b = await startRelayProc(relayToml());
  const toml = (url: string) => daemonToml({ upstream: fake.url, relayUrl: url });
  const daemon = await startAgentDaemon(toml(wsUrl(`http://127.0.0.1:${silent.port}`)), {}, false);
  try {
    await until(() => open.size === 1, 10_000, "the agent's handshake with the silent relay");
    await Bun.write(daemon.configFile, toml(wsUrl(b.url)));
    daemon.proc.kill("SIGHUP");
    await b.waitFor(/relay: agent connected/, 10_000);
    // Before, it stayed open until its handshake timed out; a relay that answered meanwhile took a second agent session.
    await until(() => open.size === 0, 3000, "the abandoned handshake's socket to close");
  } finally {
    silent.stop(true);
    await daemon.stop();
    await b.stop();
    cleanup(b.dir, daemon.home);
  }
}, 30_000);
