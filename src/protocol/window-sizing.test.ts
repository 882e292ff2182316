// Window sizing: twice the measured bandwidth-delay product within bounds, probes told apart from heartbeats.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decode } from "./codec.ts";
import { INITIAL_WINDOW } from "./messages.ts";
import { MIN_WINDOW, WindowSizer, probeOpaque, probeSentAt } from "./window-sizing.ts";

/** A sizer on a manual clock: idle round trips, and DATA arriving at a rate (one frame per `frameMs`). */
function sizer() {
  let t = 1000;
  const s = new WindowSizer(() => t);
  /** One probe answered after `ms`, nothing received meanwhile. */
  const roundTrip = (ms: number) => {
    const opaque = s.probe();
    expect(opaque).not.toBeNull();
    t += ms;
    return s.onProbeAnswered(probeSentAt(opaque!)!);
  };
  /** `bytesPerMs` for `ms`, in frames every `frameMs`; probes it asks for are answered after `probeRttMs`. */
  const deliver = (bytesPerMs: number, ms: number, frameMs = 1, probeRttMs = 0) => {
    let pending: { opaque: number; at: number } | null = null;
    for (let e = 0; e < ms; e += frameMs) {
      t += frameMs;
      if (pending && t >= pending.at) {
        s.onProbeAnswered(probeSentAt(pending.opaque)!);
        pending = null;
      }
      const p = s.onData(bytesPerMs * frameMs);
      if (p !== null && probeRttMs > 0) pending = { opaque: p, at: t + probeRttMs };
      else if (p !== null) s.onProbeAnswered(probeSentAt(p)!);
    }
  };
  return { s, roundTrip, deliver, advance: (ms: number) => (t += ms) };
}

describe("WindowSizer", () => {
  test("until it has measured both a delay and a rate, the window is the protocol's initial one", () => {
    const { s, roundTrip } = sizer();
    expect(s.target).toBe(INITIAL_WINDOW);
    expect(roundTrip(5)).toBe(5);
    expect(s.minRttMs).toBe(5);
    expect(s.target).toBe(INITIAL_WINDOW);
  });

  test("a 4 Mbit/s link with our own queue on it: the smallest window, not the queue's round trip", () => {
    const { s, roundTrip, deliver } = sizer();
    roundTrip(0.2); // idle
    deliver(500, 1000, 1, 100); // 500 KB/s; each probe waits 100 ms behind the upload
    expect(s.target).toBe(MIN_WINDOW);
  });

  test("a shaped link's bursts are not its rate: 16 KB at once, then the bucket's pace", () => {
    const { s, roundTrip, deliver, advance } = sizer();
    roundTrip(0.2);
    for (let i = 0; i < 20; i++) {
      deliver(16_000, 1); // a burst at the wire's speed
      advance(31); // then the token bucket refills
    }
    expect(s.target).toBe(MIN_WINDOW);
  });

  test("10 Mbit/s over 20 ms: twice the product", () => {
    const { s, roundTrip, deliver } = sizer();
    roundTrip(20);
    deliver(1250, 500, 1, 20);
    expect(s.target).toBeGreaterThan(0.9 * 50_000);
    expect(s.target).toBeLessThan(1.1 * 50_000);
  });

  test("100 Mbit/s over 50 ms: capped at the initial window, so credit returned never exceeds bytes consumed", () => {
    const { s, roundTrip, deliver } = sizer();
    roundTrip(50);
    deliver(12_500, 500, 1, 50);
    expect(s.target).toBe(INITIAL_WINDOW);
  });

  test("on loopback the round trip counts as 2 ms, so a fast stream keeps a window it can fill", () => {
    const { s, roundTrip, deliver } = sizer();
    roundTrip(0.05);
    deliver(50_000, 200); // 50 MB/s: 0.05 ms would make the window 5 KB, 2 ms makes it 200 KB
    expect(s.target).toBeGreaterThan(0.9 * 200_000);
    expect(s.target).toBeLessThan(1.1 * 200_000);
  });

  test("the rate is the highest of the last 3 s: a quiet moment does not shrink the window, a quiet link does", () => {
    const { s, roundTrip, deliver, advance } = sizer();
    roundTrip(1);
    deliver(50_000, 200);
    const busy = s.target;
    deliver(100, 500); // a lull
    expect(s.target).toBe(busy);
    advance(4000);
    deliver(100, 500); // only slow traffic for longer than the memory
    expect(s.target).toBe(MIN_WINDOW);
  });

  test("one probe in flight, spaced while DATA flows; a stale or foreign PONG is ignored", () => {
    const { s, advance } = sizer();
    const first = s.onData(10);
    expect(first).not.toBeNull();
    expect(s.onData(10)).toBeNull(); // one in flight
    expect(s.onProbeAnswered(12345)).toBeNull();
    advance(1);
    expect(s.onProbeAnswered(probeSentAt(first!)!)).toBe(1);
    expect(s.onData(10)).toBeNull(); // too soon after the last
    advance(100);
    expect(s.onData(10)).not.toBeNull();
  });

  test("probe values are negative, heartbeat timestamps are not: a PONG says which it answers", () => {
    expect(probeSentAt(probeOpaque(0))).toBe(0);
    expect(probeSentAt(probeOpaque(1234.5))).toBe(1234.5);
    expect(probeSentAt(Date.now())).toBeNull();
    expect(probeSentAt(0)).toBeNull();
  });
});

test("the probe fixtures in docs/protocol.md decode to what their captions say", () => {
  const md = readFileSync(join(import.meta.dir, "../../docs/protocol.md"), "utf8");
  const section = md.slice(md.indexOf("## Scheduling"), md.indexOf("## Going away"));
  const lines = /```\n([\s\S]*?)```/.exec(section)![1]!.trimEnd().split("\n");
  const seen: (number | null)[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    const wire = /^PING:\s+(.*)$/.exec(lines[i]!)![1]!;
    const f = decode(new Uint8Array(Buffer.from(wire.replace(/\s+/g, ""), "hex")));
    if (f.type !== "PING") throw new Error(`${wire} is not a PING`);
    const value = new DataView(f.opaque.buffer, f.opaque.byteOffset, 8).getFloat64(0);
    seen.push(probeSentAt(value));
    if (probeSentAt(value) === null) expect(lines[i + 1]).toContain(`heartbeat sent at ${value}`);
  }
  expect(seen).toEqual([1234.5, null]);
  expect(lines[1]).toContain("performance.now() = 1234.5");
});
