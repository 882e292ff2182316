// Test helpers: a private dbus-daemon on a path address, a StatusNotifierWatcher stub and an org.freedesktop.Notifications stub.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import dbus from "dbus-next";
import { BUN, REPO } from "../helpers/daemon.ts";
import { spawnLogged, type LoggedProc } from "../helpers/process.ts";
import { until } from "../helpers/until.ts";

export interface PrivateBus {
  address: string;
  dir: string;
  stop(): Promise<void>;
}

/** Starts `dbus-daemon --session` on unix:path=$TMP/bus (or an abstract socket named after it) and waits for it to print its address. */
export async function startPrivateBus(kind: "path" | "abstract" = "path"): Promise<PrivateBus> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-bus-"));
  // Its own HOME and XDG dirs, not the user's: dbus-daemon makes $XDG_RUNTIME_DIR/dbus-1/services, and a service it
  // starts on demand (gnome-keyring-daemon for org.freedesktop.secrets) would open the user's own ~/.local/share/keyrings.
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, XDG_RUNTIME_DIR: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_DATA_HOME: join(dir, "data") };
  const proc = Bun.spawn(["dbus-daemon", "--session", "--nofork", "--nopidfile", `--address=unix:${kind}=${join(dir, "bus")}`, "--print-address=1"], {
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`dbus-daemon exited: ${await new Response(proc.stderr).text()}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return {
    address: text.trim().split("\n")[0]!,
    dir,
    async stop() {
      proc.kill();
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const { Interface } = dbus.interface;

/** A StatusNotifierWatcher that records registrations (what a panel does). */
export class WatcherStub extends Interface {
  items: string[] = [];
  registrations: { service: string; sender: string }[] = [];
  constructor() {
    super("org.kde.StatusNotifierWatcher");
  }
  get RegisteredStatusNotifierItems(): string[] {
    return this.items;
  }
  get IsStatusNotifierHostRegistered(): boolean {
    return true;
  }
  get ProtocolVersion(): number {
    return 0;
  }
  RegisterStatusNotifierItem(service: string): void {
    this.registrations.push({ service, sender: "" });
    if (!this.items.includes(service)) this.items.push(service);
    this.StatusNotifierItemRegistered(service);
  }
  RegisterStatusNotifierHost(_service: string): void {}
  StatusNotifierItemRegistered(s: string): string {
    return s;
  }
  StatusNotifierItemUnregistered(s: string): string {
    return s;
  }
  StatusNotifierHostRegistered(): void {}
}
WatcherStub.configureMembers({
  properties: {
    RegisteredStatusNotifierItems: { signature: "as", access: "read" },
    IsStatusNotifierHostRegistered: { signature: "b", access: "read" },
    ProtocolVersion: { signature: "i", access: "read" },
  },
  methods: {
    RegisterStatusNotifierItem: { inSignature: "s", outSignature: "" },
    RegisterStatusNotifierHost: { inSignature: "s", outSignature: "" },
  },
  signals: {
    StatusNotifierItemRegistered: { signature: "s" },
    StatusNotifierItemUnregistered: { signature: "s" },
    StatusNotifierHostRegistered: { signature: "" },
  },
});

/** Runs a WatcherStub on its own connection (so it can go away and come back like a restarting panel). */
export async function startWatcher(address: string): Promise<{ stub: WatcherStub; bus: dbus.MessageBus; stop(): void }> {
  const bus = dbus.sessionBus({ busAddress: address });
  const stub = new WatcherStub();
  bus.export("/StatusNotifierWatcher", stub);
  await bus.requestName("org.kde.StatusNotifierWatcher", 0);
  return { stub, bus, stop: () => bus.disconnect() };
}

export interface Notification {
  appName: string;
  replacesId: number;
  icon: string;
  summary: string;
  body: string;
  actions: string[];
  hints: Record<string, unknown>;
  timeout: number;
}

/** A notification server that records what notify-send sends. */
export class NotificationsStub extends Interface {
  received: Notification[] = [];
  constructor() {
    super("org.freedesktop.Notifications");
  }
  Notify(appName: string, replacesId: number, icon: string, summary: string, body: string, actions: string[], hints: Record<string, { value: unknown }>, timeout: number): number {
    const h: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(hints)) h[k] = v.value;
    this.received.push({ appName, replacesId, icon, summary, body, actions, hints: h, timeout });
    return this.received.length;
  }
  GetCapabilities(): string[] {
    return ["body", "icon-static"];
  }
  GetServerInformation(): [string, string, string, string] {
    return ["stub", "c2l-tests", "1.0", "1.2"];
  }
  CloseNotification(_id: number): void {}
}
NotificationsStub.configureMembers({
  methods: {
    Notify: { inSignature: "susssasa{sv}i", outSignature: "u" },
    GetCapabilities: { inSignature: "", outSignature: "as" },
    GetServerInformation: { inSignature: "", outSignature: "ssss" },
    CloseNotification: { inSignature: "u", outSignature: "" },
  },
});

export async function startNotifications(address: string): Promise<{ stub: NotificationsStub; stop(): void }> {
  const bus = dbus.sessionBus({ busAddress: address });
  const stub = new NotificationsStub();
  bus.export("/org/freedesktop/Notifications", stub);
  await bus.requestName("org.freedesktop.Notifications", 0);
  return { stub, stop: () => bus.disconnect() };
}

export { until } from "../helpers/until.ts";

export type TrayProc = LoggedProc;

/** Runs `tray --config FILE` (from source, or `binary`) with `env` (which must name the private bus). */
export function spawnTray(configFile: string, env: Record<string, string>, binary?: string): TrayProc {
  const cmd = binary ? [binary] : [BUN, join(REPO, "src/main.ts")];
  return spawnLogged([...cmd, "tray", "--config", configFile], { env, label: "tray", debugEnv: "DEBUG_TRAY" });
}

/**
 * The tray pointed at a running daemon (its API's ephemeral port written into a tray config in the daemon's home), on
 * the private bus, registered with the watcher; `env` adds to the daemon's (stand-in tools on PATH, a display).
 */
export async function trayOnDaemon(
  daemon: { home: string; env: Record<string, string>; urls: { api?: string } },
  bus: PrivateBus,
  watcher: { stub: WatcherStub },
  env: Record<string, string> = {},
): Promise<{ tray: TrayProc; client: dbus.MessageBus }> {
  const trayConfig = join(daemon.home, "tray.toml");
  await Bun.write(trayConfig, `[api]\nlisten = "${daemon.urls.api!.replace("http://", "")}"\n`);
  const tray = spawnTray(trayConfig, { ...daemon.env, ...env, DBUS_SESSION_BUS_ADDRESS: bus.address });
  const client = dbus.sessionBus({ busAddress: bus.address });
  await until(() => watcher.stub.items.length > 0, 15_000, `registration (tray: ${tray.stderr()})`);
  return { tray, client };
}
