// Our D-Bus client (src/desktop/dbus) on a real dbus-daemon, with dbus-next as the independent other end: calls, errors,
// served objects (methods, Properties, Introspectable, signals), NameOwnerChanged, abstract addresses, malformed bytes.
import { expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import dbus from "dbus-next";
import { requireTools } from "../helpers/requires.ts";
import { BusConnection, connectBus, NameFlag } from "../../src/desktop/dbus/connection.ts";
import { DBusInterface } from "../../src/desktop/dbus/interface.ts";
import { watchNameOwner } from "../../src/desktop/dbus/name-owner.ts";
import { DBusError, Variant } from "../../src/desktop/dbus/variant.ts";
import { startPrivateBus, startWatcher, until, type PrivateBus } from "./private-bus.ts";

const { afterAll, beforeAll, test } = requireTools(["dbus-daemon"]);

let bus: PrivateBus;
let ours: BusConnection;
let theirs: dbus.MessageBus;

beforeAll(async () => {
  bus = await startPrivateBus();
  ours = await connectBus(bus.address);
  theirs = dbus.sessionBus({ busAddress: bus.address });
});
afterAll(async () => {
  ours?.close();
  theirs?.disconnect();
  await bus?.stop();
});

/** A served object with a method of each shape, a read-only and a writable property, and a signal. */
class Sample extends DBusInterface {
  count = 2;
  label = "start";
  constructor() {
    super("org.example.Sample", {
      methods: {
        Add: { in: "ii", out: "i" },
        Pair: { in: "s", out: "sx" },
        Echo: { in: "v", out: "v" },
        Fail: { in: "", out: "" },
        Crash: { in: "", out: "" },
      },
      properties: { Count: { signature: "u" }, Label: { signature: "s", access: "readwrite" }, Pixels: { signature: "a(iiay)" } },
      signals: { Changed: "us" },
    });
  }
  get Count(): number {
    return this.count;
  }
  get Label(): string {
    return this.label;
  }
  set Label(v: string) {
    this.label = v;
  }
  get Pixels(): [number, number, Buffer][] {
    return [[1, 1, Buffer.from([0xff, 0, 0, 0xff])]];
  }
  Add(a: number, b: number): number {
    return a + b;
  }
  async Pair(s: string): Promise<[string, bigint]> {
    return [s.toUpperCase(), -(2n ** 40n)];
  }
  Echo(v: Variant): Variant {
    return v;
  }
  Fail(): void {
    throw new DBusError("org.example.Error.Nope", "no, as asked");
  }
  Crash(): void {
    throw new Error("a bug in the method");
  }
  change(): void {
    this.count++;
    this.emit("Changed", this.count, "more");
    this.propertiesChanged(["Count"]);
  }
}

test("connects, says Hello, and calls the bus: answers and error names", async () => {
  expect(ours.uniqueName).toMatch(/^:1\.\d+$/);
  expect((await ours.callBus("ListNames")) as string[]).toContain(ours.uniqueName);
  const err = (await ours.callBus("GetNameOwner", "s", ["org.example.Nobody"]).catch((e) => e)) as DBusError;
  expect(err).toBeInstanceOf(DBusError);
  expect(err.type).toBe("org.freedesktop.DBus.Error.NameHasNoOwner");
  expect(err.message).toContain("org.example.Nobody");
});

test("a served object answers dbus-next: methods, errors, Properties Get/GetAll/Set, introspection, signals", async () => {
  const sample = new Sample();
  ours.export("/org/example/Sample", sample);
  expect(await ours.requestName("org.example.Sample", NameFlag.DO_NOT_QUEUE)).toBe(1);
  // dbus-next builds its proxy from our introspection XML: every member must be there with its signature.
  const obj = await theirs.getProxyObject("org.example.Sample", "/org/example/Sample");
  const s = obj.getInterface("org.example.Sample");
  expect(await s.Add!(2, 40)).toBe(42);
  expect(await s.Pair!("ab")).toEqual(["AB", -(2n ** 40n)]);
  expect(((await s.Echo!(new dbus.Variant("as", ["x", "y"]))) as { value: unknown }).value).toEqual(["x", "y"]);
  expect(await s.Fail!().catch((e: { type: string; text: string }) => [e.type, e.text])).toEqual(["org.example.Error.Nope", "no, as asked"]);
  expect(await s.Crash!().catch((e: { type: string; text: string }) => [e.type, e.text])).toEqual(["org.freedesktop.DBus.Error.Failed", "a bug in the method"]);
  const props = obj.getInterface("org.freedesktop.DBus.Properties");
  expect(((await props.Get!("org.example.Sample", "Count")) as { value: unknown }).value).toBe(2);
  const all = (await props.GetAll!("org.example.Sample")) as Record<string, { value: unknown }>;
  expect(Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.value]))).toEqual({ Count: 2, Label: "start", Pixels: [[1, 1, Buffer.from([0xff, 0, 0, 0xff])]] });
  await props.Set!("org.example.Sample", "Label", new dbus.Variant("s", "set"));
  expect(sample.label).toBe("set");
  expect(await props.Set!("org.example.Sample", "Count", new dbus.Variant("u", 9)).catch((e: { type: string }) => e.type)).toBe("org.freedesktop.DBus.Error.PropertyReadOnly");
  expect(await props.Get!("org.example.Sample", "Nope").catch((e: { type: string }) => e.type)).toBe("org.freedesktop.DBus.Error.UnknownProperty");
  // A path above the object introspects to the child nodes that lead to it.
  const above = await theirs.getProxyObject("org.example.Sample", "/org");
  expect(above.nodes).toEqual(["/org/example"]);
  const seen: unknown[] = [];
  s.on("Changed", (...a: unknown[]) => seen.push(a));
  props.on("PropertiesChanged", (iface: string, changed: Record<string, { value: unknown }>) => seen.push([iface, changed.Count?.value]));
  await Bun.sleep(100); // dbus-next's AddMatch calls
  sample.change();
  await until(() => seen.length === 2, 5000, "the signal and PropertiesChanged");
  expect(seen).toEqual([[3, "more"], ["org.example.Sample", 3]]);
  ours.unexport("/org/example/Sample", sample);
  expect(await s.Add!(1, 1).catch((e: { type: string }) => e.type)).toBe("org.freedesktop.DBus.Error.UnknownObject");
  await ours.releaseName("org.example.Sample");
});

test("calls dbus-next's watcher and follows its name through restarts (NameOwnerChanged)", async () => {
  const owners: string[] = [];
  const stop = await watchNameOwner(ours, "org.kde.StatusNotifierWatcher", (o) => owners.push(o));
  let w = await startWatcher(bus.address);
  await until(() => owners.length === 1, 5000, "the watcher to appear");
  await ours.call({ destination: "org.kde.StatusNotifierWatcher", path: "/StatusNotifierWatcher", interface: "org.kde.StatusNotifierWatcher", member: "RegisterStatusNotifierItem", signature: "s", body: ["org.example.Item"] });
  expect(w.stub.items).toEqual(["org.example.Item"]);
  w.stop();
  w = await startWatcher(bus.address);
  await until(() => owners.length === 3, 5000, "the watcher to go and come back");
  expect(owners[0]).toMatch(/^:1\./);
  expect(owners[1]).toBe("");
  expect(owners[2]).not.toBe(owners[0]);
  w.stop();
  stop();
});

test("an abstract socket address connects; a missing socket says which", async () => {
  const abs = await startPrivateBus("abstract");
  try {
    const c = await connectBus(abs.address);
    expect(c.uniqueName).toMatch(/^:1\.\d+$/);
    c.close();
  } finally {
    await abs.stop();
  }
  expect(await connectBus(`unix:path=${bus.dir}/none`).catch((e: Error) => e.message)).toMatch(/could not connect to the D-Bus bus \(.*\/none: /);
});

/** A fake bus on a unix socket: accepts EXTERNAL, then sends `bytes` once it has read Hello. */
async function fakeBus(bytes: Uint8Array | string) {
  const dir = mkdtempSync(join(tmpdir(), "c2l-fakebus-"));
  const path = join(dir, "bus");
  const server = Bun.listen({
    unix: path,
    socket: {
      data(s, d) {
        const text = Buffer.from(d).toString("latin1");
        if (text.includes("AUTH EXTERNAL")) s.write("OK 0123456789abcdef0123456789abcdef\r\n");
        if (text.includes("Hello")) s.write(bytes);
      },
    },
  });
  return { address: `unix:path=${path}`, stop: () => (server.stop(true), rmSync(dir, { recursive: true, force: true })) };
}

test("malformed bytes from the bus close that connection with a clear error, and nothing escapes the process", async () => {
  const uncaught: unknown[] = [];
  const onErr = (e: unknown) => uncaught.push(e);
  process.on("uncaughtException", onErr);
  process.on("unhandledRejection", onErr);
  try {
    // A header that claims protocol version 7.
    const bad = await fakeBus(Uint8Array.from([0x6c, 2, 0, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]));
    expect(await connectBus(bad.address, 2000).catch((e: Error) => e.message)).toMatch(/malformed message from the bus: unsupported protocol version 7/);
    bad.stop();
    // Garbage instead of an authentication answer.
    const dir = mkdtempSync(join(tmpdir(), "c2l-fakebus-"));
    const server = Bun.listen({ unix: join(dir, "bus"), socket: { data: (s) => void s.write("HTTP/1.1 400 Bad Request\r\n\r\n") } });
    expect(await connectBus(`unix:path=${join(dir, "bus")}`, 2000).catch((e: Error) => e.message)).toMatch(/answered authentication with "HTTP\/1.1 400 Bad Request", not OK/);
    server.stop(true);
    rmSync(dir, { recursive: true, force: true });
    await Bun.sleep(50);
    expect(uncaught).toEqual([]);
  } finally {
    process.off("uncaughtException", onErr);
    process.off("unhandledRejection", onErr);
  }
});

test("a connection that goes bad later tells its close listeners why and fails its pending calls", async () => {
  const c = await connectBus(bus.address);
  const reasons: string[] = [];
  c.onClose((r) => reasons.push(r));
  const pending = c.call({ destination: "org.kde.StatusNotifierWatcher", path: "/x", member: "Never" }).catch((e: Error) => e.message);
  // As if the bus had sent a message whose header has a non-zero padding byte.
  const m = Uint8Array.from(
    Buffer.from(
      "6c040001080000000b0000005800000001016f00080000002f4d656e7542617200000000000000000201730016000000636f6d2e63616e6f6e6963616c2e646275736d656e750000030173000d0000004c61796f75745570646174656400000008016700027569000500000000000000",
      "hex",
    ),
  );
  m[35] = 1;
  c.received(m);
  expect(reasons).toEqual([expect.stringMatching(/^malformed message from the bus: padding byte is not zero/)]);
  expect(await pending).toMatch(/the D-Bus connection closed: malformed message/);
  expect(c.closed).toMatch(/malformed/);
});

test("a method whose answer does not fit its out signature answers with an error; a bad signal is logged, not thrown", async () => {
  class Wrong extends DBusInterface {
    constructor() {
      super("org.example.Wrong", { methods: { Count: { in: "", out: "u" } }, signals: { Said: "s" } });
    }
    Count(): unknown {
      return "not a number";
    }
    say(): void {
      this.emit("Said", 42);
    }
  }
  const w = new Wrong();
  ours.export("/org/example/Wrong", w);
  try {
    const err = (await theirs.call(new dbus.Message({ destination: ours.uniqueName, path: "/org/example/Wrong", interface: "org.example.Wrong", member: "Count" })).catch((e) => e)) as { type: string; text: string };
    expect(err.type).toBe("org.freedesktop.DBus.Error.Failed");
    expect(err.text).toMatch(/cannot write "not a number" as D-Bus "u"/);
    expect(() => w.say()).not.toThrow();
    expect(ours.closed).toBeNull();
  } finally {
    ours.unexport("/org/example/Wrong", w);
  }
});
