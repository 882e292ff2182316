// The supervisor on a manual clock: backoff growth, cap and jitter bounds, permanent errors, reset after a stable connection.
import { expect, test } from "bun:test";
import { ManualClock } from "../core/clock.ts";
import { ConnectError, type Connection } from "./connector.ts";
import { baseDelay, jittered, Supervisor, type SupervisorSnapshot } from "./supervisor.ts";
import type { SessionCloseInfo } from "../protocol/session.ts";

const policy = { initialMs: 1000, maxMs: 60_000, multiplier: 2, jitter: 0.2 };

test("delays double from 1 s to a 60 s cap, jitter stays within ±20 %", () => {
  expect([0, 1, 2, 3, 4, 5, 6, 7].map((a) => baseDelay(policy, a))).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  for (let a = 0; a < 10; a++) {
    expect(jittered(policy, a, () => 0)).toBe(Math.round(baseDelay(policy, a) * 0.8));
    expect(jittered(policy, a, () => 1)).toBe(Math.round(baseDelay(policy, a) * 1.2));
  }
});

function fakeConnection(): Connection & { drop(info?: Partial<SessionCloseInfo>): void } {
  let end!: (i: SessionCloseInfo) => void;
  const closed = new Promise<SessionCloseInfo>((r) => (end = r));
  return {
    tunnelId: "t1",
    closed,
    activeStreams: () => 0,
    close: (reason) => end({ code: "normal", reason, remote: false }),
    drop: (info) => end({ code: "transport_closed", reason: "gone", remote: true, ...info }),
  };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

test("retryable failures back off with growing delays; a permanent 401 stops retrying", async () => {
  const clock = new ManualClock();
  const results: (ConnectError | "ok")[] = [new ConnectError("network", "refused", false), new ConnectError("network", "refused", false), new ConnectError("network", "refused", false), new ConnectError("unauthorized", "401", true)];
  let attempts = 0;
  const states: SupervisorSnapshot[] = [];
  const sup = new Supervisor({
    clock,
    backoff: policy,
    stableMs: 30_000,
    random: () => 0.5,
    connect: async () => {
      const r = results[attempts++]!;
      if (r === "ok") return fakeConnection();
      throw r;
    },
    onChange: (s) => states.push(s),
  });
  sup.start();
  await flush();
  expect(sup.snapshot().state).toBe("reconnecting");
  expect(sup.snapshot().nextRetryAt).toBe(1000);
  clock.advance(999);
  await flush();
  expect(attempts).toBe(1);
  clock.advance(1);
  await flush();
  expect(attempts).toBe(2);
  expect(sup.snapshot().nextRetryAt! - clock.now()).toBe(2000);
  clock.advance(2000);
  await flush();
  expect(sup.snapshot().nextRetryAt! - clock.now()).toBe(4000);
  clock.advance(4000);
  await flush();
  expect(attempts).toBe(4);
  expect(sup.snapshot().state).toBe("auth_failed");
  expect(sup.snapshot().lastError).toBe("401");
  clock.advance(600_000);
  await flush();
  expect(attempts).toBe(4); // no retry storm
  expect(clock.pending()).toEqual([]);
});

test("a stable connection resets the backoff; a short one does not", async () => {
  const clock = new ManualClock();
  const conns: ReturnType<typeof fakeConnection>[] = [];
  let fail = 0;
  const sup = new Supervisor({
    clock,
    backoff: policy,
    stableMs: 30_000,
    random: () => 0.5,
    connect: async () => {
      if (fail-- > 0) throw new ConnectError("network", "down", false);
      const c = fakeConnection();
      conns.push(c);
      return c;
    },
  });
  sup.start();
  await flush();
  expect(sup.snapshot().state).toBe("connected");
  // Drops right away, three times: the delay grows.
  conns.at(-1)!.drop();
  await flush();
  expect(sup.snapshot().nextRetryAt! - clock.now()).toBe(1000);
  fail = 1;
  clock.advance(1000);
  await flush();
  expect(sup.snapshot().nextRetryAt! - clock.now()).toBe(2000);
  clock.advance(2000);
  await flush();
  expect(sup.snapshot().state).toBe("connected");
  // Up for longer than stableMs: the next delay starts over.
  clock.advance(31_000);
  conns.at(-1)!.drop();
  await flush();
  expect(sup.snapshot().nextRetryAt! - clock.now()).toBe(1000);
  sup.stop();
  expect(sup.snapshot().state).toBe("stopped");
  expect(clock.pending()).toEqual([]);
});

test("stop closes the live connection and restart connects again", async () => {
  const clock = new ManualClock();
  const conns: ReturnType<typeof fakeConnection>[] = [];
  const sup = new Supervisor({ clock, backoff: policy, stableMs: 1, connect: async () => (conns.push(fakeConnection()), conns.at(-1)!) });
  sup.start();
  await flush();
  sup.restart();
  await flush();
  expect(conns.length).toBe(2);
  expect(await Promise.race([conns[0]!.closed.then((i) => i.code), flush().then(() => "open")])).toBe("normal");
  expect(sup.snapshot().state).toBe("connected");
  sup.stop();
  expect((await conns[1]!.closed).code).toBe("normal");
});

test("the relay's GO_AWAY (an expiring token) reconnects at once; one right after connecting falls back to the backoff", async () => {
  const clock = new ManualClock();
  const conns: ReturnType<typeof fakeConnection>[] = [];
  const sup = new Supervisor({
    clock,
    backoff: policy,
    stableMs: 30_000,
    random: () => 0.5,
    connect: async () => {
      const c = fakeConnection();
      conns.push(c);
      return c;
    },
  });
  sup.start();
  await flush();
  expect(conns.length).toBe(1);
  clock.advance(15_000);
  conns[0]!.drop({ code: "normal", reason: "the relay is going away: the agent's token expired", remote: true });
  await flush();
  await flush();
  expect(conns.length).toBe(2); // no wait: make before break
  expect(sup.snapshot().state).toBe("connected");
  // A GO_AWAY that follows the connection at once would loop: the backoff decides instead.
  conns[1]!.drop({ code: "normal", reason: "the relay is going away", remote: true });
  await flush();
  expect(conns.length).toBe(2);
  expect(sup.snapshot().state).toBe("reconnecting");
  clock.advance(1000);
  await flush();
  expect(conns.length).toBe(3);
  await sup.stop();
});
