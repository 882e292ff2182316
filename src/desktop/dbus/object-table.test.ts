// Method calls without a bus: routing by path and interface, the standard interfaces, and the errors a caller gets.
import { expect, test } from "bun:test";
import { DBusInterface } from "./interface.ts";
import type { Message } from "./message.ts";
import { ObjectTable } from "./object-table.ts";
import { DBusError, Variant } from "./variant.ts";

class Thing extends DBusInterface {
  constructor() {
    super("org.example.Thing", { methods: { Get: { in: "s", out: "s" }, Two: { in: "", out: "is" } }, properties: { Size: { signature: "u" } }, signals: { Moved: "ii" } });
  }
  get Size(): number {
    return 7;
  }
  Get(k: string): string {
    return `own ${k}`;
  }
  Two(): [number, string] {
    return [1, "a"];
  }
  /** A method of the object that its member table does not declare: not reachable from the bus. */
  reset(): string {
    return "reset";
  }
}

const table = new ObjectTable();
table.add("/a/b", new Thing());
const call = (m: Partial<Message>) => table.handle({ type: 1, path: "/a/b", ...m } as Message);
const fault = (m: Partial<Message>) => call(m).then(() => null, (e: DBusError) => [e.type, e.message]);

test("routing: the object's own method first, then the standard interfaces; several out values become the body", async () => {
  expect(await call({ member: "Get", signature: "s", body: ["k"] })).toEqual({ signature: "s", body: ["own k"] });
  expect(await call({ interface: "org.freedesktop.DBus.Properties", member: "Get", signature: "ss", body: ["org.example.Thing", "Size"] })).toEqual({ signature: "v", body: [new Variant("u", 7)] });
  expect(await call({ member: "Two" })).toEqual({ signature: "is", body: [1, "a"] });
  expect(await call({ interface: "org.freedesktop.DBus.Peer", member: "Ping" })).toEqual({ signature: "", body: [] });
});

test("what a caller gets wrong is a D-Bus error naming it", async () => {
  expect(await fault({ path: "/nope", member: "Get" })).toEqual(["org.freedesktop.DBus.Error.UnknownObject", "no object at /nope"]);
  expect(await fault({ member: "Get", signature: "i", body: [1] })).toEqual(["org.freedesktop.DBus.Error.InvalidArgs", 'Get takes "s", not "i"']);
  expect(await fault({ member: "Nope" })).toEqual(["org.freedesktop.DBus.Error.UnknownMethod", "no method Nope at /a/b"]);
  // Only the member table is served: the object's other methods (and getters, constructor) are not callable.
  expect(await fault({ member: "reset" })).toEqual(["org.freedesktop.DBus.Error.UnknownMethod", "no method reset at /a/b"]);
  expect(await fault({ interface: "org.example.Thing", member: "constructor" })).toEqual(["org.freedesktop.DBus.Error.UnknownMethod", "no method constructor in org.example.Thing"]);
  expect(await fault({ interface: "org.freedesktop.DBus.Properties", member: "Get", signature: "ss", body: ["org.example.Thing", "constructor"] })).toEqual([
    "org.freedesktop.DBus.Error.UnknownProperty",
    "no property constructor on org.example.Thing",
  ]);
  expect(await fault({ interface: "org.example.Other", member: "Get" })).toEqual(["org.freedesktop.DBus.Error.UnknownInterface", "no interface org.example.Other at /a/b"]);
});

test("introspection lists members with signatures, and a path above an object lists its child node", async () => {
  const xml = (await call({ interface: "org.freedesktop.DBus.Introspectable", member: "Introspect" })).body[0] as string;
  expect(xml).toContain('<interface name="org.example.Thing"><method name="Get"><arg type="s" direction="in"/><arg type="s" direction="out"/></method>');
  expect(xml).toContain('<signal name="Moved"><arg type="i"/><arg type="i"/></signal>');
  expect(xml).toContain('<property name="Size" type="u" access="read"/>');
  expect(xml).toContain('<interface name="org.freedesktop.DBus.Properties">');
  const above = (await call({ path: "/a", interface: "org.freedesktop.DBus.Introspectable", member: "Introspect" })).body[0] as string;
  expect(above).toContain('<node name="b"/>');
  expect(above).not.toContain("org.example.Thing");
});
