// The supervisor on a manual clock: backoff growth, cap and jitter bounds, permanent errors, reset after a stable
// connection, the relay's GO_AWAY as a planned move (reconnect at once, not counted), standing down when displaced.
import { expect, test } from "bun:test";
import { ManualClock } from "../core/clock.ts";
import { ConnectError, type Connection } from "./connector.ts";
import { DISPLACED_CODE, DISPLACED_WINDOW_MS } from "./displacement.ts";
import { baseDelay, jittered, MAX_QUICK_MOVES, MOVE_WINDOW_MS, MOVES_WINDOW_MS, Supervisor, type SupervisorSnapshot } from "./supervisor.ts";
import type { SessionCloseInfo } from "../protocol/session.ts";

const policy = { initialMs: 1000, maxMs: 60_000, multiplier: 2, jitter: 0.2 };

test("delays double from 1 s to a 60 s cap, jitter stays within ±20 %", () => {
  expect([0, 1, 2, 3, 4, 5, 6, 7].map((a) => baseDelay(policy, a))).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  for (let a = 0; a < 10; a++) {
    expect(jittered(policy, a, () => 0)).toBe(Math.round(baseDelay(policy, a) * 0.8));
    expect(jittered(policy, a, () => 1)).toBe(Math.round(baseDelay(policy, a) * 1.2));
  }
});

function fakeConnection(): Connection & { drop(info?: Partial<SessionCloseInfo>): void; goAway(): void; closedBySupervisor: boolean } {
  let end!: (i: SessionCloseInfo) => void;
  const closed = new Promise<SessionCloseInfo>((r) => (end = r));
  const c = {
    tunnelId: "t1",
    closed,
    closedBySupervisor: false,
    activeStreams: () => 0,
    close: (reason: string) => {
      c.closedBySupervisor = true;
      end({ code: "normal", reason, remote: false });
    },
    drop: (info?: Partial<SessionCloseInfo>) => end({ code: "transport_closed", reason: "gone", remote: true, ...info }),
    // What the connector reports for the relay's GO_AWAY "normal" (src/tunnel/connector.ts onGoAway).
    goAway: () => end({ code: "normal", reason: "the relay is going away: the relay is shutting down", remote: true, moving: true }),
  };
  return c;
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

/** A supervisor whose connect() succeeds unless `fail` says how many of the next attempts are refused. */
function harness() {
  const clock = new ManualClock();
  const conns: ReturnType<typeof fakeConnection>[] = [];
  const h = { clock, conns, fail: 0, attempts: 0, sup: null as unknown as Supervisor };
  h.sup = new Supervisor({
    clock,
    backoff: policy,
    stableMs: 30_000,
    random: () => 0.5,
    connect: async () => {
      h.attempts++;
      if (h.fail-- > 0) throw new ConnectError("http_error", "the relay answered HTTP 503 instead of a WebSocket upgrade", false);
      const c = fakeConnection();
      conns.push(c);
      return c;
    },
  });
  return h;
}

test("GO_AWAY is a planned move: a new connection at once (no delay), not counted, the old one left to finish its streams", async () => {
  const h = harness();
  h.sup.start();
  await flush();
  expect(h.sup.snapshot().state).toBe("connected");
  // Five node replacements, each after a few seconds of service: never a delay, never an attempt counted.
  for (let i = 0; i < 5; i++) {
    h.clock.advance(5_000);
    const old = h.conns.at(-1)!;
    old.goAway();
    await flush();
    expect(h.conns.length).toBe(i + 2);
    expect(h.sup.snapshot().state).toBe("connected");
    expect(h.sup.snapshot().attempt).toBe(0);
    expect(h.sup.snapshot().nextRetryAt).toBeNull();
    // Make before break: the supervisor does not close the old connection; the relay ends it once its streams finish.
    expect(old.closedBySupervisor).toBe(false);
  }
  // A real failure afterwards starts at the first delay.
  h.conns.at(-1)!.drop();
  await flush();
  expect(h.sup.snapshot().attempt).toBe(1);
  expect(h.sup.snapshot().nextRetryAt! - h.clock.now()).toBe(1000);
  await h.sup.stop();
  expect(h.clock.pending()).toEqual([]);
});

test("a move refused by the node going away (the balancer has not noticed yet) is tried again within 200 ms, uncounted; past the move window the ordinary backoff takes over", async () => {
  const h = harness();
  h.sup.start();
  await flush();
  h.clock.advance(5_000);
  h.fail = 2;
  h.conns.at(-1)!.goAway();
  await flush();
  expect(h.attempts).toBe(2);
  expect(h.sup.snapshot().state).toBe("reconnecting");
  expect(h.sup.snapshot().nextRetryAt! - h.clock.now()).toBe(200);
  h.clock.advance(200);
  await flush();
  expect(h.attempts).toBe(3);
  h.clock.advance(200);
  await flush();
  expect(h.sup.snapshot().state).toBe("connected");
  expect(h.sup.snapshot().attempt).toBe(0);
  // The next move never gets through: after the move window, the counted backoff.
  h.clock.advance(5_000);
  h.fail = 1_000;
  h.conns.at(-1)!.goAway();
  await flush();
  for (let t = 0; t < MOVE_WINDOW_MS; t += 200) {
    h.clock.advance(200);
    await flush();
  }
  expect(h.sup.snapshot().attempt).toBe(1);
  expect(h.sup.snapshot().nextRetryAt! - h.clock.now()).toBe(1000);
  await h.sup.stop();
});

test("a GO_AWAY right after connecting counts as a failure (no reconnect storm against a relay that sends everyone away)", async () => {
  const h = harness();
  h.sup.start();
  await flush();
  h.clock.advance(100);
  h.conns.at(-1)!.goAway();
  await flush();
  expect(h.sup.snapshot().attempt).toBe(1);
  expect(h.sup.snapshot().nextRetryAt! - h.clock.now()).toBe(1000);
  await h.sup.stop();
});

test("the backoff resets once a session has been up for stableMs, not only when it ends: the status says attempt 0", async () => {
  const h = harness();
  h.fail = 3;
  h.sup.start();
  await flush();
  for (const d of [1000, 2000, 4000]) {
    h.clock.advance(d);
    await flush();
  }
  expect(h.sup.snapshot().state).toBe("connected");
  expect(h.sup.snapshot().attempt).toBe(3);
  h.clock.advance(29_999);
  expect(h.sup.snapshot().attempt).toBe(3);
  h.clock.advance(1);
  expect(h.sup.snapshot().attempt).toBe(0);
  // Hours later, one failure: the first delay again.
  h.clock.advance(3 * 3600_000);
  h.conns.at(-1)!.drop();
  await flush();
  expect(h.sup.snapshot().nextRetryAt! - h.clock.now()).toBe(1000);
  await h.sup.stop();
  expect(h.clock.pending()).toEqual([]);
});

test("a relay that sends the agent away every 1.5 s gets a few quick moves, then the counted backoff; a minute later moves are quick again", async () => {
  const h = harness();
  h.sup.start();
  await flush();
  for (let i = 0; i < MAX_QUICK_MOVES; i++) {
    h.clock.advance(1_500);
    h.conns.at(-1)!.goAway();
    await flush();
    expect(h.conns.length).toBe(i + 2); // at once, uncounted
    expect(h.sup.snapshot().attempt).toBe(0);
  }
  // One more within the minute: a failure, with the first delay.
  h.clock.advance(1_500);
  h.conns.at(-1)!.goAway();
  await flush();
  expect(h.conns.length).toBe(MAX_QUICK_MOVES + 1);
  expect(h.sup.snapshot().attempt).toBe(1);
  expect(h.sup.snapshot().nextRetryAt! - h.clock.now()).toBe(1000);
  h.clock.advance(1000);
  await flush();
  expect(h.sup.snapshot().state).toBe("connected");
  // Once the window has passed, a move is a planned move again.
  h.clock.advance(MOVES_WINDOW_MS);
  h.conns.at(-1)!.goAway();
  await flush();
  expect(h.conns.length).toBe(MAX_QUICK_MOVES + 3);
  expect(h.sup.snapshot().state).toBe("connected");
  await h.sup.stop();
});

/** What the connector reports when the relay closes the session for a newer connection of the same tunnel. */
const REPLACED = { code: "replaced", reason: "another connection for this tunnel replaced this one" } as const;

test("replaced once: reconnects; replaced again within the window: stops in failed/displaced with no retry; a user start takes the tunnel back with the count cleared", async () => {
  const h = harness();
  h.sup.start();
  await flush();
  h.clock.advance(60_000);
  h.conns.at(-1)!.drop(REPLACED);
  await flush();
  // One replacement (a lease moved to another relay node, say): the ordinary retry.
  expect(h.sup.snapshot()).toMatchObject({ state: "reconnecting", lastErrorCode: "replaced", nextRetryAt: h.clock.now() + 1000 });
  h.clock.advance(1000);
  await flush();
  expect(h.sup.snapshot().state).toBe("connected");
  expect(h.conns.length).toBe(2);
  // The other agent takes the tunnel again a few seconds later: a fight. This one stands down.
  h.clock.advance(3_000);
  h.conns.at(-1)!.drop(REPLACED);
  await flush();
  const s = h.sup.snapshot();
  expect(s).toMatchObject({ state: "failed", lastErrorCode: DISPLACED_CODE, nextRetryAt: null, connection: null });
  expect(s.lastError).toMatch(/another agent connected with this tunnel's token.*stopped reconnecting/);
  expect(h.clock.pending()).toEqual([]);
  h.clock.advance(60_000);
  await flush();
  expect(h.attempts).toBe(2);
  // The user reconnects here, within the window: it connects, and the next replacement is a first one again (reconnected).
  h.sup.restart("reconnect");
  await flush();
  expect(h.sup.snapshot()).toMatchObject({ state: "connected", lastErrorCode: null });
  h.clock.advance(1_000);
  h.conns.at(-1)!.drop(REPLACED);
  await flush();
  expect(h.sup.snapshot().state).toBe("reconnecting");
  await h.sup.stop();
});

test("two replacements further apart than the window are two one-off events: both reconnected", async () => {
  const h = harness();
  h.sup.start();
  await flush();
  for (let i = 0; i < 3; i++) {
    h.clock.advance(DISPLACED_WINDOW_MS);
    h.conns.at(-1)!.drop(REPLACED);
    await flush();
    expect(h.sup.snapshot().state).toBe("reconnecting");
    h.clock.advance(1000);
    await flush();
    expect(h.sup.snapshot().state).toBe("connected");
  }
  expect(h.conns.length).toBe(4);
  // Other endings between them never count: only `replaced` does.
  h.clock.advance(1_000);
  h.conns.at(-1)!.drop({ code: "heartbeat_timeout", reason: "no pong" });
  await flush();
  expect(h.sup.snapshot().state).toBe("reconnecting");
  await h.sup.stop();
});

test("stop() calls off the attempt under way: its signal aborts (a reload moved the tunnel while a handshake hung)", async () => {
  let signal: AbortSignal | null = null;
  const sup = new Supervisor({ clock: new ManualClock(), backoff: policy, stableMs: 1, connect: (s) => ((signal = s), new Promise<never>(() => {})) });
  sup.start();
  await flush();
  expect(signal!.aborted).toBe(false);
  await sup.stop();
  expect(signal!.aborted).toBe(true);
});

test("a wall clock set back an hour during a planned move that never gets through: the 200 ms retries end with the move window (10 s), not an hour later", async () => {
  const h = harness();
  h.sup.start();
  await flush();
  h.clock.advance(5_000);
  h.fail = 1_000_000;
  h.conns.at(-1)!.goAway();
  await flush();
  // NTP (or the user) sets the clock back while the agent retries its move.
  h.clock.jumpWall(-3_600_000);
  for (let t = 0; t < MOVE_WINDOW_MS + 1_000; t += 200) {
    h.clock.advance(200);
    await flush();
  }
  expect(h.sup.snapshot()).toMatchObject({ state: "reconnecting", moving: false });
  expect(h.sup.snapshot().attempt).toBeGreaterThanOrEqual(1);
  // The counted backoff from now on: a minute brings a handful of attempts, not 300.
  const before = h.attempts;
  for (let t = 0; t < 60_000; t += 200) {
    h.clock.advance(200);
    await flush();
  }
  expect(h.attempts - before).toBeLessThan(10);
  await h.sup.stop();
});

test("replacements are spaced on both clocks: a clock set back an hour does not make a lone replacement past the window a fight, nor does a night asleep bring two together", async () => {
  const h = harness();
  h.sup.start();
  await flush();
  const replacedThenBack = async () => {
    h.conns.at(-1)!.drop(REPLACED);
    await flush();
    expect(h.sup.snapshot().state).toBe("reconnecting");
    h.clock.advance(1000);
    await flush();
    expect(h.sup.snapshot().state).toBe("connected");
  };
  h.clock.advance(60_000);
  await replacedThenBack();
  // The wall clock set back an hour; the next replacement comes past the window in real time.
  h.clock.jumpWall(-3_600_000);
  h.clock.advance(DISPLACED_WINDOW_MS + 60_000);
  await replacedThenBack();
  // A night asleep: the wall clock goes on 8 hours, the monotonic one (and the timers) do not.
  h.clock.jumpWall(8 * 3_600_000);
  h.clock.advance(1_000);
  await replacedThenBack();
  expect(h.conns.length).toBe(4);
  await h.sup.stop();
});
