// Session bus discovery and the abstract-socket rewrite.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { normalizeBusAddress, sessionBusAddress } from "./dbus-address.ts";

const dir = mkdtempSync(join(tmpdir(), "c2l-dbus-address-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("normalizeBusAddress", () => {
  test("abstract sockets become the \\0 path Bun's net understands; others pass through", () => {
    expect(normalizeBusAddress("unix:abstract=/tmp/dbus-AbC,guid=123")).toBe("unix:socket=\0/tmp/dbus-AbC");
    expect(normalizeBusAddress("unix:path=/run/user/1000/bus")).toBe("unix:path=/run/user/1000/bus");
    expect(normalizeBusAddress("unix:abstract=/tmp/a;unix:path=/b")).toBe("unix:socket=\0/tmp/a;unix:path=/b");
  });
});

describe("sessionBusAddress", () => {
  test("DBUS_SESSION_BUS_ADDRESS first, else $XDG_RUNTIME_DIR/bus when it exists, else null", () => {
    expect(sessionBusAddress({ DBUS_SESSION_BUS_ADDRESS: "unix:abstract=/tmp/x", XDG_RUNTIME_DIR: dir })).toBe("unix:abstract=/tmp/x");
    expect(sessionBusAddress({ XDG_RUNTIME_DIR: dir })).toBeNull();
    writeFileSync(join(dir, "bus"), "");
    expect(sessionBusAddress({ XDG_RUNTIME_DIR: dir })).toBe(`unix:path=${join(dir, "bus")}`);
  });
});
