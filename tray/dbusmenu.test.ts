// The dbusmenu model without a bus: stable ids per key, only changed items in ItemsPropertiesUpdated, layout revisions.
import { describe, expect, test } from "bun:test";
import { DBusMenu } from "./dbusmenu.ts";
import type { MenuItem } from "./state.ts";

function record(menu: DBusMenu) {
  const signals: { name: string; args: unknown }[] = [];
  menu.onSignal((_iface, name, _signature, body) => signals.push({ name, args: body }));
  return signals;
}

const base = (label: string, quitVisible = true): MenuItem[] => [
  { key: "status", label, enabled: false },
  { key: "sep", type: "separator" },
  { key: "tunnel", label: "Tunnel", children: [{ key: "tunnel.restart", label: "Restart tunnel", action: "tunnel.restart" }] },
  { key: "quit", label: "Quit_tray", action: "quit", visible: quitVisible },
];

describe("DBusMenu", () => {
  test("ids stay with keys; a label change sends only that item, and a new revision", () => {
    const clicked: string[] = [];
    const m = new DBusMenu((i) => clicked.push(i.key));
    m.setMenu(base("All good"));
    const signals = record(m);
    const [rev1, layout1] = m.GetLayout(0, -1, []);
    const statusId = m.idOf("status")!;
    m.setMenu(base("Degraded"));
    expect(m.idOf("status")).toBe(statusId);
    const ipu = signals.find((s) => s.name === "ItemsPropertiesUpdated")!.args as [[number, Record<string, { value: unknown }>][], unknown[]];
    expect(ipu[0].map(([id]) => id)).toEqual([statusId]);
    expect(ipu[0][0]![1].label!.value).toBe("Degraded");
    const lu = signals.find((s) => s.name === "LayoutUpdated")!.args as [number, number];
    expect(lu[0]).toBeGreaterThan(rev1);
    expect(m.GetLayout(0, -1, [])[0]).toBe(lu[0]);
    // same menu again: silence
    signals.length = 0;
    m.setMenu(base("Degraded"));
    expect(signals).toEqual([]);
    expect(layout1[0]).toBe(0);
  });

  test("a property that goes back to its default is listed as removed", () => {
    const m = new DBusMenu(() => {});
    m.setMenu(base("x", false));
    const signals = record(m);
    m.setMenu(base("x", true));
    const ipu = signals.find((s) => s.name === "ItemsPropertiesUpdated")!.args as [unknown[], [number, string[]][]];
    expect(ipu[1]).toEqual([[m.idOf("quit")!, ["visible"]]]);
  });

  test("layout depth, property filters, mnemonic escaping, and clicks only on enabled actions", async () => {
    const clicked: string[] = [];
    const m = new DBusMenu((i) => clicked.push(i.key));
    m.setMenu(base("All good"));
    const [, top] = m.GetLayout(0, 1, ["label"]);
    const tunnel = top[2].map((v) => v.value as [number, Record<string, { value: unknown }>, unknown[]]).find((c) => c[1].label?.value === "Tunnel")!;
    expect(tunnel[2]).toEqual([]); // depth 1: the submenu's children are not included
    expect(Object.keys(tunnel[1])).toEqual(["label"]);
    expect((m.GetProperty(m.idOf("quit")!, "label") as { value: string }).value).toBe("Quit__tray");
    expect(() => m.GetProperty(999, "label")).toThrow(/no menu item with id 999/);
    m.Event(m.idOf("status")!, "clicked", null, 0); // disabled, no action
    m.Event(m.idOf("tunnel.restart")!, "hovered", null, 0);
    m.Event(m.idOf("tunnel.restart")!, "clicked", null, 0);
    await Bun.sleep(0);
    expect(clicked).toEqual(["tunnel.restart"]);
    expect(m.AboutToShowGroup([m.idOf("quit")!, 4242])).toEqual([[], [4242]]);
  });
});
