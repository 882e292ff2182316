// The tray's list of dashboard access requests waiting, as dashboard.access events change it.
import { expect, test } from "bun:test";
import { pendingAccess } from "./daemon-link.ts";

test("requested adds, approved removes, expired ones drop out", () => {
  const now = Date.parse("2026-12-06T12:00:00Z");
  const at = (s: number) => new Date(now + s * 1000).toISOString();
  let list = pendingAccess([], { code: "AAAA-AAAA", state: "requested", expiresAt: at(120) }, now);
  list = pendingAccess(list, { code: "BBBB-BBBB", state: "requested", expiresAt: at(5) }, now);
  expect(list.map((a) => a.code)).toEqual(["AAAA-AAAA", "BBBB-BBBB"]);
  list = pendingAccess(list, { code: "AAAA-AAAA", state: "approved", expiresAt: at(0) }, now);
  expect(list.map((a) => a.code)).toEqual(["BBBB-BBBB"]);
  list = pendingAccess(list, { code: "CCCC-CCCC", state: "requested", expiresAt: at(130) }, now + 10_000);
  expect(list.map((a) => a.code)).toEqual(["CCCC-CCCC"]);
});
