// A relay or a daemon draining a generation (go_away_grace) stops at once on a second SIGTERM or SIGINT: the operator's
// "now" (a second Ctrl-C, systemd's or a script's second signal) is obeyed, not queued behind the grace, and the log says so.
import { expect, test } from "bun:test";
import { startTunnelRig } from "./tunnel-rig.ts";
import { CLIENT_KEY, TUNNEL_ID } from "./helpers.ts";


/** A long generation through the relay, its first bytes read: the stream in flight when the signals come. */
async function streamInFlight(relayUrl: string): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const res = await fetch(`${relayUrl}/t/${TUNNEL_ID}/api/generate`, {
    method: "POST",
    headers: { authorization: `Bearer ${CLIENT_KEY}` },
    body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi" }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  await reader.read();
  return reader;
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`${signal} twice while a stream is in flight: the relay exits at once instead of waiting out its 30 s grace`, async () => {
    const rig = await startTunnelRig({ fake: { tokens: 10_000, tokenDelayMs: 50 } });
    try {
      const reader = await streamInFlight(rig.relay.url);
      rig.relay.proc.kill(signal);
      await rig.relay.waitFor(/stopping/, 5_000);
      // The first signal drains: the relay is still there a second later (the stream has 30 s to finish).
      await Bun.sleep(1_000);
      expect(rig.relay.proc.exitCode).toBeNull();
      rig.relay.proc.kill(signal);
      const code = await Promise.race([rig.relay.proc.exited, Bun.sleep(5_000).then(() => "still running")]);
      expect(code).toBe(0);
      expect(rig.relay.stderr()).toMatch(new RegExp(`second ${signal}: stopping now`));
      await reader.cancel().catch(() => {});
    } finally {
      await rig.stop();
    }
  }, 30_000);
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`${signal} twice while a tunnel stream is in flight: the daemon exits at once, its last log line saying why`, async () => {
    const rig = await startTunnelRig({ fake: { tokens: 10_000, tokenDelayMs: 50 } });
    try {
      const reader = await streamInFlight(rig.relay.url);
      rig.daemon.proc.kill(signal);
      await rig.daemon.waitFor(/daemon: stopping/, 5_000);
      // The first signal drains: the tunnel's stream has [tunnel] go_away_grace (30 s) to finish.
      await Bun.sleep(1_000);
      expect(rig.daemon.proc.exitCode).toBeNull();
      rig.daemon.proc.kill(signal);
      const code = await Promise.race([rig.daemon.proc.exited, Bun.sleep(5_000).then(() => "still running")]);
      expect(code).toBe(0);
      // Before: it exited without a word after "stopping" (no "stopped" either), as if it had crashed.
      await rig.daemon.waitFor(new RegExp(`second ${signal}: stopping now`), 5_000);
      expect(rig.daemon.stderr().trim().split("\n").at(-1)).toMatch(new RegExp(`warn daemon: second ${signal}: stopping now, without waiting for the requests in flight$`));
      await reader.cancel().catch(() => {});
    } finally {
      await rig.stop();
    }
  }, 30_000);
}
