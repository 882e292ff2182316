// org.kde.StatusNotifierItem at /StatusNotifierItem: every property, method and signal of the spec, fed by the tray view.
import { renderArgb } from "../src/desktop/icons/render.ts";
import { storedArgb } from "../src/desktop/icons/stored.ts";
import { APP_ICON, iconName, type TrayState } from "../src/desktop/icons/shapes.ts";
import type { SniStatus, TrayView } from "./state.ts";
import { MENU_PATH } from "./dbusmenu.ts";
import { DBusInterface, type MemberTable } from "../src/desktop/dbus/interface.ts";

export const ITEM_PATH = "/StatusNotifierItem";

/** The start of the bus names of the items process `pid` shows (daemon-shows-tray.ts finds the daemon's own by it). */
export const itemNamePrefix = (pid: number): string => `org.kde.StatusNotifierItem-${pid}-`;
let items = 0;
/** A bus name for a new item of this process: org.kde.StatusNotifierItem-PID-N, as the SNI spec suggests. */
export function newItemName(): string {
  return itemNamePrefix(process.pid) + ++items;
}
/** Pixmap sizes offered to hosts that cannot use the themed icon (IconName is the first choice). */
export const PIXMAP_SIZES = [16, 22, 24, 32, 48];

type Pixmap = [number, number, Buffer];

const pixmapCache = new Map<string, Pixmap[]>();
export function pixmaps(state: TrayState | undefined): Pixmap[] {
  const key = state ?? "app";
  let p = pixmapCache.get(key);
  if (!p) pixmapCache.set(key, (p = PIXMAP_SIZES.map((s) => [s, s, Buffer.from(storedArgb(state, s) ?? renderArgb(state, s))] as Pixmap)));
  return p;
}

export interface ItemCallbacks {
  /** Primary click (most hosts: left click or double click). */
  activate(x: number, y: number): void;
  secondaryActivate?(x: number, y: number): void;
}

/** The members the SNI spec defines, with their signatures. */
const MEMBERS: MemberTable = {
  properties: {
    Category: { signature: "s" },
    Id: { signature: "s" },
    Title: { signature: "s" },
    Status: { signature: "s" },
    WindowId: { signature: "i" },
    IconThemePath: { signature: "s" },
    Menu: { signature: "o" },
    ItemIsMenu: { signature: "b" },
    IconName: { signature: "s" },
    IconPixmap: { signature: "a(iiay)" },
    OverlayIconName: { signature: "s" },
    OverlayIconPixmap: { signature: "a(iiay)" },
    AttentionIconName: { signature: "s" },
    AttentionIconPixmap: { signature: "a(iiay)" },
    AttentionMovieName: { signature: "s" },
    ToolTip: { signature: "(sa(iiay)ss)" },
  },
  methods: {
    Activate: { in: "ii", out: "" },
    SecondaryActivate: { in: "ii", out: "" },
    ContextMenu: { in: "ii", out: "" },
    Scroll: { in: "is", out: "" },
  },
  signals: { NewTitle: "", NewIcon: "", NewAttentionIcon: "", NewOverlayIcon: "", NewToolTip: "", NewStatus: "s" },
};

export class StatusNotifierItem extends DBusInterface {
  private state: TrayState = "connecting";
  private status: SniStatus = "Active";
  private title = "CloudToLocalLLM tunnel";
  private tooltip = { title: "CloudToLocalLLM tunnel", body: "" };
  private themePath = "";

  constructor(private readonly callbacks: ItemCallbacks) {
    super("org.kde.StatusNotifierItem", MEMBERS);
  }

  /** The directory of the private icon theme when the icons are not installed system-wide ("" otherwise). */
  setIconThemePath(path: string): void {
    this.themePath = path;
  }

  /** Applies a new view; only what changed is signalled (hosts re-read on each signal, so silence is cheaper). */
  update(view: TrayView): void {
    if (view.title !== this.title) {
      this.title = view.title;
      this.emit("NewTitle");
    }
    if (view.state !== this.state) {
      this.state = view.state;
      this.emit("NewIcon");
    }
    if (view.tooltip.title !== this.tooltip.title || view.tooltip.body !== this.tooltip.body) {
      this.tooltip = view.tooltip;
      this.emit("NewToolTip");
    }
    if (view.status !== this.status) {
      this.status = view.status;
      this.emit("NewStatus", view.status);
    }
  }

  get Category(): string {
    return "ApplicationStatus";
  }
  get Id(): string {
    return APP_ICON;
  }
  get Title(): string {
    return this.title;
  }
  get Status(): string {
    return this.status;
  }
  get WindowId(): number {
    return 0;
  }
  get IconThemePath(): string {
    return this.themePath;
  }
  get Menu(): string {
    return MENU_PATH;
  }
  get ItemIsMenu(): boolean {
    // false: hosts send Activate on a primary click and show the menu on a secondary one.
    return false;
  }
  get IconName(): string {
    return iconName(this.state);
  }
  get IconPixmap(): Pixmap[] {
    return pixmaps(this.state);
  }
  get OverlayIconName(): string {
    return "";
  }
  get OverlayIconPixmap(): Pixmap[] {
    return [];
  }
  get AttentionIconName(): string {
    return iconName("critical");
  }
  get AttentionIconPixmap(): Pixmap[] {
    return pixmaps("critical");
  }
  get AttentionMovieName(): string {
    return "";
  }
  get ToolTip(): [string, Pixmap[], string, string] {
    return [iconName(this.state), [], this.tooltip.title, this.tooltip.body];
  }

  Activate(x: number, y: number): void {
    this.callbacks.activate(x, y);
  }
  SecondaryActivate(x: number, y: number): void {
    this.callbacks.secondaryActivate?.(x, y);
  }
  ContextMenu(_x: number, _y: number): void {
    // The host shows the dbusmenu itself (Menu property); nothing to draw here.
  }
  Scroll(_delta: number, _orientation: string): void {}
}
