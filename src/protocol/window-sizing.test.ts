// Window sizing: twice the measured bandwidth-delay product within bounds, probes told apart from heartbeats.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decode } from "./codec.ts";
import { INITIAL_WINDOW } from "./messages.ts";
import { MAX_WINDOW, MIN_WINDOW, WindowSizer, probeOpaque, probeSentAt } from "./window-sizing.ts";

/** A sizer on a manual clock, and a helper that receives `bytes` over one probe round trip of `rttMs`. */
function sizer() {
  let t = 1000;
  const s = new WindowSizer(() => t);
  const roundTrip = (bytes: number, rttMs: number) => {
    const opaque = s.probe();
    expect(opaque).not.toBeNull();
    s.onData(bytes);
    t += rttMs;
    s.onProbeAnswered(probeSentAt(opaque!)!);
  };
  return { s, roundTrip, advance: (ms: number) => (t += ms) };
}

describe("WindowSizer", () => {
  test("until it has measured, the window is the protocol's initial one", () => {
    const { s, roundTrip } = sizer();
    expect(s.target).toBe(INITIAL_WINDOW);
    roundTrip(0, 5); // an idle round trip: a delay, but no rate yet
    expect(s.minRttMs).toBe(5);
    expect(s.target).toBe(INITIAL_WINDOW);
  });

  test("a 4 Mbit/s link with our own queue on it: the smallest window, not the queue's round trip", () => {
    const { s, roundTrip } = sizer();
    roundTrip(0, 1); // idle: 1 ms
    roundTrip(50_000, 100); // loaded: 500 KB/s, the probe waited 100 ms behind the upload
    expect(s.target).toBe(MIN_WINDOW);
  });

  test("10 Mbit/s over 20 ms: twice the product", () => {
    const { s, roundTrip } = sizer();
    roundTrip(0, 20);
    roundTrip(25_000, 20); // 1.25 MB/s
    expect(s.target).toBe(50_000);
  });

  test("100 Mbit/s over 50 ms: capped at the initial window, so credit returned never exceeds bytes consumed", () => {
    const { s, roundTrip } = sizer();
    roundTrip(0, 50);
    roundTrip(625_000, 50);
    expect(s.target).toBe(INITIAL_WINDOW);
  });

  test("window-limited on a long link, the window doubles each round trip until the cap", () => {
    const { s, roundTrip } = sizer();
    roundTrip(0, 200);
    let w = MIN_WINDOW;
    for (let i = 0; i < 5; i++) {
      roundTrip(w, 200); // all the credit, every round trip: the link could take more
      expect(s.target).toBe(Math.min(MAX_WINDOW, 2 * w));
      w = s.target;
    }
    expect(s.target).toBe(MAX_WINDOW);
  });

  test("on loopback the round trip counts as 2 ms, so a fast stream keeps a window it can fill", () => {
    const { s, roundTrip } = sizer();
    roundTrip(0, 0.05);
    roundTrip(25_000, 0.5); // 50 MB/s: 0.05 ms would make it 5 KB, 2 ms makes it 200 KB
    expect(s.target).toBe(200_000);
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
    advance(30);
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
