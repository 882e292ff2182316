// docs/protocol.md read as a test: every byte fixture through the codec both ways, and the doc's tables of ids, codes and close codes against the code's own tables.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeMessage, encode, encodeBatch } from "./codec.ts";
import { CLOSE_CODES, GO_AWAY_CODES, MESSAGES, RESET_CODES, type Frame } from "./messages.ts";
import { probeOpaque, probeSentAt } from "./window-sizing.ts";

const md = readFileSync(join(import.meta.dir, "../../docs/protocol.md"), "utf8");
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/[\s|]+/g, ""), "hex"));
const plain = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? hex(x) : x)));
const section = (title: string) => {
  const start = md.indexOf(`\n## ${title}\n`);
  expect(start).toBeGreaterThan(-1);
  const end = md.indexOf("\n## ", start + 4);
  return md.slice(start, end === -1 ? undefined : end);
};

/** Every `NAME: hex` line of the doc's unlabelled fenced blocks, with the caption lines under it. */
const fixtures = [...md.matchAll(/```\n([\s\S]*?)```/g)].flatMap((m) => {
  const lines = m[1]!.split("\n");
  const out: { name: string; wire: string; caption: string[] }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const f = /^([A-Z_]+):\s+([0-9a-f][0-9a-f |]*)$/.exec(lines[i]!);
    if (!f) continue;
    const caption: string[] = [];
    for (let j = i + 1; j < lines.length && /^\s/.test(lines[j]!); j++) caption.push(lines[j]!.trim());
    out.push({ name: f[1]!, wire: f[2]!, caption });
  }
  return out;
});

const reencode = (f: Frame | { type: "BATCH"; frames: Frame[] }) => (f.type === "BATCH" ? encodeBatch((f as { frames: Frame[] }).frames.map(encode)) : encode(f as Frame));

describe("docs/protocol.md byte fixtures", () => {
  test("the doc holds the fixtures this file checks (a fixture renamed or dropped is noticed)", () => {
    expect(fixtures.map((f) => f.name)).toEqual(["BATCH", "HELLO", "RESPONSE_HEAD", "RESUME", "RESUMED", "RESUME_REFUSED", "HELLO", "WELCOME", "PING", "PING", "PING", "REQUEST_HEAD"]);
  });
  for (const [i, fx] of fixtures.entries()) {
    test(`fixture ${i + 1} (${fx.name}) decodes to its type and encodes back to the same bytes`, () => {
      const f = decodeMessage(bytes(fx.wire));
      expect(f.type).toBe(fx.name as Frame["type"]);
      expect(hex(reencode(f as never))).toBe(hex(bytes(fx.wire)));
      // A caption `stream N {json}` is the frame the bytes hold.
      const said = fx.caption.map((c) => /^stream (\d+) (\{.*\})$/.exec(c)).find((c) => c);
      if (said) {
        expect(f.stream).toBe(Number(said[1]));
        expect((f as { body?: unknown }).body).toEqual(JSON.parse(said[2]!));
      }
    });
  }
  test("the BATCH fixture holds what its caption names: END stream 1, WINDOW_UPDATE stream 3 +65536, DATA stream 1 \"hi\"", () => {
    const fx = fixtures.find((f) => f.name === "BATCH")!;
    expect(fx.caption.join(" ")).toMatch(/END stream 1\s+WINDOW_UPDATE stream 3 \+65536\s+DATA stream 1 "hi"/);
    expect(plain(decodeMessage(bytes(fx.wire)))).toEqual(
      plain({ type: "BATCH", stream: 0, frames: [{ type: "END", stream: 1 }, { type: "WINDOW_UPDATE", stream: 3, increment: 65536 }, { type: "DATA", stream: 1, data: new TextEncoder().encode("hi") }] }),
    );
  });
  test("the probe and heartbeat PINGs (Scheduling) are what the session writes for the captions' clocks, and read back as probe and heartbeat", () => {
    const pings = fixtures.filter((f) => f.name === "PING" && f.caption.some((c) => /probe|heartbeat/.test(c)));
    const probe = pings.find((p) => p.caption[0]!.startsWith("a probe"))!;
    const beat = pings.find((p) => p.caption[0]!.startsWith("a heartbeat"))!;
    const at = Number(/performance\.now\(\) = ([\d.]+) ms/.exec(probe.caption[0]!)![1]);
    const opaque = Number(/opaque (−|-)([\d.]+)\)/.exec(probe.caption[0]!)![2]) * -1;
    const float = (w: string) => new DataView(bytes(w).buffer).getFloat64(6);
    expect(probeOpaque(at)).toBe(opaque);
    expect(float(probe.wire)).toBe(opaque);
    expect(probeSentAt(float(probe.wire))).toBe(at);
    const clock = Number(/sent at (\d+)/.exec(beat.caption[0]!)![1]);
    expect(float(beat.wire)).toBe(clock);
    expect(probeSentAt(float(beat.wire))).toBeNull();
  });
});

describe("docs/protocol.md tables", () => {
  const table = section("Message types")
    .split("\n")
    .filter((l) => /^\| 0x/.test(l))
    .map((l) => l.split("|").map((c) => c.trim()));
  test("the message table lists every message with its id, direction and stream scope", () => {
    const dir = { "agent->relay": "agent → relay", "relay->agent": "relay → agent", both: "both" } as const;
    expect(table.map((r) => [r[1], r[2], r[3], r[4] === "0" ? "control" : "stream"])).toEqual(
      MESSAGES.map((m) => [`0x${m.id.toString(16).padStart(2, "0")}`, m.name, dir[m.direction], m.scope]),
    );
  });
  test("the RESET and GO_AWAY codes the table names are exactly the codec's", () => {
    const codes = (name: string) => [...table.find((r) => r[2] === name)![5]!.split("codes ")[1]!.matchAll(/`(\w+)`/g)].map((m) => m[1]);
    expect(codes("RESET")).toEqual([...RESET_CODES]);
    expect(codes("GO_AWAY")).toEqual([...GO_AWAY_CODES]);
  });
  test("the WebSocket close codes the doc lists are the ones both sides send", () => {
    const line = /WebSocket close codes: ([^\n]+(?:\n[^\n]+)*?)\.\n/.exec(section("Errors"))![1]!.replace(/\n/g, " ");
    const listed = new Map([...line.matchAll(/(\d{4}) ([^,]+)/g)].map((m) => [Number(m[1]), m[2]!.trim()]));
    for (const [reason, { code }] of Object.entries(CLOSE_CODES)) {
      expect([reason, listed.has(code)]).toEqual([reason, true]);
      // The doc names the ending in words: "heartbeat timeout" for heartbeat_timeout.
      expect(listed.get(code)!.startsWith(reason === "protocol_error" ? "protocol error" : reason.replace(/_/g, " "))).toBe(true);
    }
  });
});
