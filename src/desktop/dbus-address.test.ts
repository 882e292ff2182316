// Session bus discovery and the sockets an address names.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { busSockets, sessionBusAddress } from "./dbus-address.ts";

const dir = mkdtempSync(join(tmpdir(), "c2l-dbus-address-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("busSockets", () => {
  test("path and abstract sockets in order (abstract ones as the \\0 path Bun connects to), escapes undone, other transports left out", () => {
    expect(busSockets("unix:abstract=/tmp/dbus-AbC,guid=123")).toEqual([{ path: "\0/tmp/dbus-AbC", abstract: true }]);
    expect(busSockets("unix:path=/run/user/1000/bus")).toEqual([{ path: "/run/user/1000/bus", abstract: false }]);
    expect(busSockets("tcp:host=localhost,port=1;unix:abstract=/tmp/a;unix:path=/b%2dc")).toEqual([
      { path: "\0/tmp/a", abstract: true },
      { path: "/b-c", abstract: false },
    ]);
    expect(busSockets("unix:socket=\0x")).toEqual([{ path: "\0x", abstract: true }]);
    expect(busSockets("launchd:env=X")).toEqual([]);
  });
});

describe("sessionBusAddress", () => {
  test("DBUS_SESSION_BUS_ADDRESS first, else $XDG_RUNTIME_DIR/bus when it exists, else null", () => {
    expect(sessionBusAddress({ DBUS_SESSION_BUS_ADDRESS: "unix:abstract=/tmp/x", XDG_RUNTIME_DIR: dir })).toBe("unix:abstract=/tmp/x");
    expect(sessionBusAddress({ XDG_RUNTIME_DIR: dir })).toBeNull();
    writeFileSync(join(dir, "bus"), "");
    expect(sessionBusAddress({ XDG_RUNTIME_DIR: dir })).toBe(`unix:path=${join(dir, "bus")}`);
  });

  test("a relative XDG_RUNTIME_DIR is ignored (as everywhere); a runtime dir with a comma or non-ASCII letters is escaped and found again", () => {
    writeFileSync(join(dir, "bus"), "");
    expect(sessionBusAddress({ XDG_RUNTIME_DIR: relative(process.cwd(), dir) })).toBeNull();
    const odd = join(dir, "a,b;c José");
    mkdirSync(odd);
    writeFileSync(join(odd, "bus"), "");
    expect(busSockets(sessionBusAddress({ XDG_RUNTIME_DIR: odd })!)).toEqual([{ path: join(odd, "bus"), abstract: false }]);
  });
});
