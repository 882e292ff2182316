// Pins the wire ids of every protocol message: changing one is a protocol version bump.
import { expect, test } from "bun:test";
import { BY_ID, MESSAGES, TYPE } from "./messages.ts";

test("message type ids are pinned", () => {
  expect(Object.fromEntries(MESSAGES.map((m) => [m.name, m.id]))).toEqual({
    HELLO: 0x01,
    WELCOME: 0x02,
    REQUEST_HEAD: 0x10,
    RESPONSE_HEAD: 0x11,
    DATA: 0x12,
    END: 0x13,
    RESET: 0x14,
    WINDOW_UPDATE: 0x15,
    RESUME: 0x16,
    RESUMED: 0x17,
    RESUME_REFUSED: 0x18,
    PING: 0x20,
    PONG: 0x21,
    GO_AWAY: 0x22,
    BATCH: 0x30,
  });
});

test("ids and names are unique and control frames use stream 0", () => {
  expect(BY_ID.size).toBe(MESSAGES.length);
  expect(new Set(Object.keys(TYPE)).size).toBe(MESSAGES.length);
  for (const m of MESSAGES) expect(["control", "stream"]).toContain(m.scope);
  expect(MESSAGES.filter((m) => m.scope === "control").map((m) => m.name).sort()).toEqual(["BATCH", "GO_AWAY", "HELLO", "PING", "PONG", "RESUME", "RESUME_REFUSED", "WELCOME"]);
});
