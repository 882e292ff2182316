// com.canonical.dbusmenu at /MenuBar: serves the tray's menu model, numbers items stably and signals changes.
import { DBusInterface, type MemberTable } from "../src/desktop/dbus/interface.ts";
import { DBusError, Variant } from "../src/desktop/dbus/variant.ts";
import type { MenuItem } from "./state.ts";

export const MENU_PATH = "/MenuBar";

type Props = Record<string, Variant>;
interface Node {
  id: number;
  item: MenuItem;
  props: Props;
  children: Node[];
}
type Layout = [number, Props, Variant[]];

// Only non-default values are sent, as the dbusmenu spec asks.
function propsOf(item: MenuItem): Props {
  const p: Props = {};
  if (item.type === "separator") p.type = new Variant("s", "separator");
  if (item.label !== undefined) p.label = new Variant("s", item.label.replace(/_/g, "__")); // "_" marks mnemonics
  if (item.enabled === false) p.enabled = new Variant("b", false);
  if (item.visible === false) p.visible = new Variant("b", false);
  if (item.icon) p["icon-name"] = new Variant("s", item.icon);
  if (item.toggle) {
    p["toggle-type"] = new Variant("s", item.toggle.type);
    p["toggle-state"] = new Variant("i", item.toggle.state ? 1 : 0);
  }
  if (item.children) p["children-display"] = new Variant("s", "submenu");
  return p;
}

function sameProps(a: Props, b: Props): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => b[k] !== undefined && b[k]!.signature === a[k]!.signature && b[k]!.value === a[k]!.value);
}

/** The members of com.canonical.dbusmenu, with their signatures. */
const MEMBERS: MemberTable = {
  properties: {
    Version: { signature: "u" },
    TextDirection: { signature: "s" },
    Status: { signature: "s" },
    IconThemePath: { signature: "as" },
  },
  methods: {
    GetLayout: { in: "iias", out: "u(ia{sv}av)" },
    GetGroupProperties: { in: "aias", out: "a(ia{sv})" },
    GetProperty: { in: "is", out: "v" },
    Event: { in: "isvu", out: "" },
    EventGroup: { in: "a(isvu)", out: "ai" },
    AboutToShow: { in: "i", out: "b" },
    AboutToShowGroup: { in: "ai", out: "aiai" },
  },
  signals: { ItemsPropertiesUpdated: "a(ia{sv})a(ias)", LayoutUpdated: "ui", ItemActivationRequested: "iu" },
};

export class DBusMenu extends DBusInterface {
  private revision = 1;
  private ids = new Map<string, number>();
  private nextId = 1;
  private root: Node = { id: 0, item: { key: "root" }, props: { "children-display": new Variant("s", "submenu") }, children: [] };
  private byId = new Map<number, Node>([[0, this.root]]);
  private statusValue: "normal" | "notice" = "normal";
  private themePath: string[] = [];

  constructor(private readonly onClick: (item: MenuItem) => void) {
    super("com.canonical.dbusmenu", MEMBERS);
  }

  /** Replaces the menu; emits LayoutUpdated when the menu changed and ItemsPropertiesUpdated for changed items. */
  setMenu(items: MenuItem[]): void {
    const oldById = this.byId;
    const byId = new Map<number, Node>([[0, this.root]]);
    const build = (list: MenuItem[]): Node[] =>
      list.map((item) => {
        let id = this.ids.get(item.key);
        if (id === undefined) this.ids.set(item.key, (id = this.nextId++));
        const node: Node = { id, item, props: propsOf(item), children: item.children ? build(item.children) : [] };
        byId.set(id, node);
        return node;
      });
    const children = build(items);
    const shape = (n: Node[]): string => n.map((c) => `${c.id}(${shape(c.children)})`).join(",");
    const structural = shape(children) !== shape(this.root.children);
    const updated: [number, Props][] = [];
    const removed: [number, string[]][] = [];
    for (const [id, node] of byId) {
      const old = oldById.get(id);
      if (!old || id === 0 || sameProps(old.props, node.props)) continue;
      updated.push([id, node.props]);
      const gone = Object.keys(old.props).filter((k) => !(k in node.props));
      if (gone.length) removed.push([id, gone]);
    }
    this.root.children = children;
    this.byId = byId;
    if (!structural && updated.length === 0) return;
    this.revision++;
    if (updated.length) this.emit("ItemsPropertiesUpdated", updated, removed);
    // Many hosts only listen for LayoutUpdated, so any change is announced there too.
    this.emit("LayoutUpdated", this.revision, 0);
  }

  /** "notice" asks the host to draw attention to the menu (used while an alert is active). */
  setStatus(status: "normal" | "notice"): void {
    if (status === this.statusValue) return;
    this.statusValue = status;
    this.propertiesChanged(["Status"]);
  }

  setIconThemePath(paths: string[]): void {
    this.themePath = paths;
  }

  /** The numeric id a key currently has (tests and hosts address items by id). */
  idOf(key: string): number | undefined {
    return this.ids.get(key);
  }

  get Version(): number {
    return 3;
  }
  get TextDirection(): string {
    return "ltr";
  }
  get Status(): string {
    return this.statusValue;
  }
  get IconThemePath(): string[] {
    return this.themePath;
  }

  private layoutOf(node: Node, depth: number, names: string[]): Layout {
    const props = names.length ? Object.fromEntries(Object.entries(node.props).filter(([k]) => names.includes(k))) : node.props;
    const kids = depth === 0 ? [] : node.children.map((c) => new Variant("(ia{sv}av)", this.layoutOf(c, depth - 1, names)));
    return [node.id, props, kids];
  }

  private node(id: number): Node {
    const n = this.byId.get(id);
    if (!n) throw new DBusError("com.canonical.dbusmenu.Error.UnknownId", `no menu item with id ${id}`);
    return n;
  }

  GetLayout(parentId: number, recursionDepth: number, propertyNames: string[]): [number, Layout] {
    return [this.revision, this.layoutOf(this.node(parentId), recursionDepth, propertyNames)];
  }

  GetGroupProperties(ids: number[], propertyNames: string[]): [number, Props][] {
    const nodes = ids.length ? ids.map((i) => this.byId.get(i)).filter((n): n is Node => !!n) : [...this.byId.values()];
    return nodes.map((n) => [n.id, this.layoutOf(n, 0, propertyNames)[1]]);
  }

  GetProperty(id: number, name: string): Variant {
    const v = this.node(id).props[name];
    if (!v) throw new DBusError("com.canonical.dbusmenu.Error.UnknownProperty", `menu item ${id} has no property "${name}"`);
    return v;
  }

  Event(id: number, eventId: string, _data: unknown, _timestamp: number): void {
    const n = this.node(id);
    if (eventId === "clicked" && n.item.enabled !== false && n.item.visible !== false && n.item.action) {
      // Answer the bus first; the action may take a while (HTTP to the daemon).
      queueMicrotask(() => this.onClick(n.item));
    }
  }

  EventGroup(events: [number, string, unknown, number][]): number[] {
    const missing: number[] = [];
    for (const [id, eventId, data, ts] of events) {
      if (!this.byId.has(id)) missing.push(id);
      else this.Event(id, eventId, data, ts);
    }
    return missing;
  }

  AboutToShow(_id: number): boolean {
    return false; // the menu is always current: it is rebuilt on every daemon event
  }

  AboutToShowGroup(ids: number[]): [number[], number[]] {
    return [[], ids.filter((i) => !this.byId.has(i))];
  }
}
