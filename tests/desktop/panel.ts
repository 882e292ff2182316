// Visual check: the tray in a real xfce4-panel (systray plugin = StatusNotifierWatcher + host) under Xvfb, screenshot with ImageMagick.
//   bun tests/desktop/panel.ts [OUT.png]      (default artifacts/tray-panel.png)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Subprocess } from "bun";
import { REPO } from "../helpers/daemon.ts";
import { spawnTray } from "./private-bus.ts";
import { daemonStatus, startFakeDaemon, upstream } from "./fake-daemon.ts";

// One panel across the top: an expanding separator, then the notification area (systray), which hosts SNI items in 4.18.
const PANEL_XML = `<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="dark-mode" type="bool" value="true"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="48"/>
      <property name="icon-size" type="uint" value="32"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
        <value type="int" value="2"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="separator">
      <property name="expand" type="bool" value="true"/>
      <property name="style" type="uint" value="0"/>
    </property>
    <property name="plugin-2" type="string" value="systray">
      <property name="square-icons" type="bool" value="false"/>
      <property name="icon-size" type="uint" value="32"/>
    </property>
  </property>
</channel>
`;

const TOKEN = "panel-screenshot-token-0123456789";

async function firstLine(p: Subprocess<"ignore", "pipe", "pipe">, what: string, timeoutMs = 10_000): Promise<string> {
  const reader = p.stdout.getReader();
  let text = "";
  const timer = setTimeout(() => p.kill(), timeoutMs);
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${what} exited before it was ready: ${await new Response(p.stderr).text()}`);
      text += new TextDecoder().decode(value);
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  return text.split("\n")[0]!.trim();
}

function gdbus(address: string, ...args: string[]): string {
  const r = Bun.spawnSync(["gdbus", "call", "--address", address, ...args], { stderr: "pipe" });
  return r.stdout.toString();
}

async function waitFor(fn: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

/** Pixels of one RGB screenshot, for counting colours and finding what changed. */
export interface Pixels {
  width: number;
  height: number;
  raw: Uint8Array;
}

export interface PanelShot {
  file: string;
  /** Pixels in the screenshot close to the given colour (the icon's state badge). */
  pixelsNear(rgb: [number, number, number], tolerance?: number): number;
  pixels: Pixels;
  registeredItems: string;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A running panel with the tray in it: screenshots, the pointer, the tray's D-Bus properties. */
export interface PanelSession {
  display: string;
  registeredItems: string;
  screenshot(out: string): PanelShot;
  /** Moves the pointer to a point of the screen (xdotool), as a user's mouse does. */
  pointerTo(x: number, y: number): void;
  /** The tray's tooltip as the panel reads it over D-Bus: [title, body]. */
  tooltip(): string;
  stop(): Promise<void>;
}

/** The stand-in daemon's status for each state the panel is shown in. */
function statusFor(state: "good" | "degraded"): ReturnType<typeof daemonStatus> {
  if (state === "good") return daemonStatus();
  // Ollama on the second machine stopped: the verdict line names it with the reason and the fix; the tunnel is
  // connected, so the tooltip also gives the URL cloud clients use.
  const upstreams = [upstream("local"), upstream("gpu-box", { state: "down", quality: "down", url: "http://192.168.1.20:11434", lastError: "connection refused" })];
  const s = daemonStatus({ upstreams });
  s.tunnel = { ...s.tunnel, tunnelId: "alice", cloudUrl: "https://relay.example.com/t/alice/" };
  return s;
}

function readPixels(file: string): Pixels {
  const size = Bun.spawnSync(["identify", "-format", "%w %h", file]).stdout.toString().trim().split(" ").map(Number);
  const raw = Bun.spawnSync(["convert", file, "-depth", "8", "rgb:-"]).stdout;
  return { width: size[0]!, height: size[1]!, raw: new Uint8Array(raw) };
}

/** The smallest box around the pixels that differ between two screenshots of the same size (null: none differ). */
export function changedBox(a: Pixels, b: Pixels, within: Box = { x: 0, y: 0, width: a.width, height: a.height }): (Box & { pixels: number }) | null {
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1, n = 0;
  for (let y = within.y; y < within.y + within.height; y++)
    for (let x = within.x; x < within.x + within.width; x++) {
      const i = (y * a.width + x) * 3;
      if (a.raw[i] === b.raw[i] && a.raw[i + 1] === b.raw[i + 1] && a.raw[i + 2] === b.raw[i + 2]) continue;
      n++;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  return n === 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1, pixels: n };
}

/** The box around the pixels near a colour (the icon's tile), or null. */
export function colourBox(p: Pixels, [r, g, b]: [number, number, number], tol = 10): Box | null {
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  for (let y = 0; y < p.height; y++)
    for (let x = 0; x < p.width; x++) {
      const i = (y * p.width + x) * 3;
      if (Math.abs(p.raw[i]! - r) > tol || Math.abs(p.raw[i + 1]! - g) > tol || Math.abs(p.raw[i + 2]! - b) > tol) continue;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** Writes the part `box` of a PNG to `out`. */
export function crop(file: string, box: Box, out: string): void {
  mkdirSync(dirname(out), { recursive: true });
  const r = Bun.spawnSync(["convert", file, "-crop", `${box.width}x${box.height}+${box.x}+${box.y}`, "+repage", out], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`convert -crop failed: ${r.stderr.toString()}`);
}

/**
 * Runs Xvfb + a private session bus + xfce4-panel + the tray (against a stand-in daemon). The screen is tall enough
 * below the 48-pixel panel for the tooltip, which GTK opens under the pointer.
 */
export async function startPanel(state: "good" | "degraded" = "degraded", screen = "800x240"): Promise<PanelSession> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-panel-"));
  const procs: Subprocess[] = [];
  const fake = startFakeDaemon(TOKEN, statusFor(state));
  const stop = async () => {
    for (const p of procs.reverse()) {
      p.kill();
      await p.exited;
    }
    // xfconfd was started by the bus; it exits when the bus goes away.
    fake.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const cfg = join(dir, "config");
    mkdirSync(join(cfg, "xfce4/xfconf/xfce-perchannel-xml"), { recursive: true });
    writeFileSync(join(cfg, "xfce4/xfconf/xfce-perchannel-xml/xfce4-panel.xml"), PANEL_XML);
    mkdirSync(join(cfg, "cloudtolocalllm"), { recursive: true });
    writeFileSync(join(cfg, "cloudtolocalllm/api-token"), TOKEN + "\n", { mode: 0o600 });
    writeFileSync(join(cfg, "cloudtolocalllm/tunnel.toml"), `[api]\nlisten = "${fake.url.slice(7)}"\n`);
    const run = join(dir, "run");
    mkdirSync(run, { mode: 0o700 });

    // -displayfd: Xvfb picks a free display and prints its number.
    const xvfb = Bun.spawn(["Xvfb", "-displayfd", "1", "-screen", "0", `${screen}x24`, "-nolisten", "tcp"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    procs.push(xvfb);
    const display = `:${await firstLine(xvfb, "Xvfb")}`;
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir,
      DISPLAY: display,
      XDG_CONFIG_HOME: cfg,
      XDG_DATA_HOME: join(dir, "data"),
      XDG_STATE_HOME: join(dir, "state"),
      XDG_CACHE_HOME: join(dir, "cache"),
      XDG_RUNTIME_DIR: run,
      NO_AT_BRIDGE: "1", // no accessibility bus to look for
    };
    // xfconfd is started by D-Bus activation and inherits this environment (so it reads our panel layout).
    const bus = Bun.spawn(["dbus-daemon", "--session", "--nofork", "--nopidfile", `--address=unix:path=${join(dir, "bus")}`, "--print-address=1"], {
      env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    procs.push(bus);
    const address = await firstLine(bus, "dbus-daemon");
    const full = { ...env, DBUS_SESSION_BUS_ADDRESS: address };

    const panel = Bun.spawn(["xfce4-panel", "--disable-wm-check"], { env: full, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    procs.push(panel);
    await waitFor(() => gdbus(address, "--dest", "org.freedesktop.DBus", "--object-path", "/org/freedesktop/DBus", "--method", "org.freedesktop.DBus.NameHasOwner", "org.kde.StatusNotifierWatcher").includes("true"), 20_000, "xfce4-panel's StatusNotifierWatcher");

    procs.push(spawnTray(join(cfg, "cloudtolocalllm/tunnel.toml"), full).proc);
    let registeredItems = "";
    await waitFor(() => {
      registeredItems = gdbus(address, "--dest", "org.kde.StatusNotifierWatcher", "--object-path", "/StatusNotifierWatcher", "--method", "org.freedesktop.DBus.Properties.Get", "org.kde.StatusNotifierWatcher", "RegisteredStatusNotifierItems");
      return registeredItems.includes("StatusNotifierItem-");
    }, 15_000, "the tray to register with the panel");
    await waitFor(() => fake.sockets() > 0, 10_000, "the tray to follow the stand-in daemon");
    await Bun.sleep(1500); // the panel fetches the properties and draws
    const item = /'([^']*StatusNotifierItem-[^']*)'/.exec(registeredItems)![1]!;

    return {
      display,
      registeredItems,
      screenshot(out) {
        mkdirSync(dirname(out), { recursive: true });
        const shot = Bun.spawnSync(["import", "-display", display, "-window", "root", out], { stderr: "pipe" });
        if (shot.exitCode !== 0) throw new Error(`import failed: ${shot.stderr.toString()}`);
        const pixels = readPixels(out);
        return {
          file: out,
          registeredItems,
          pixels,
          pixelsNear([r, g, b], tol = 24) {
            const raw = pixels.raw;
            let n = 0;
            for (let i = 0; i + 2 < raw.length; i += 3) if (Math.abs(raw[i]! - r) <= tol && Math.abs(raw[i + 1]! - g) <= tol && Math.abs(raw[i + 2]! - b) <= tol) n++;
            return n;
          },
        };
      },
      pointerTo(x, y) {
        const r = Bun.spawnSync(["xdotool", "mousemove", String(x), String(y)], { env: full, stderr: "pipe" });
        if (r.exitCode !== 0) throw new Error(`xdotool failed: ${r.stderr.toString()}`);
      },
      tooltip() {
        // The item's bus name is "org.kde.StatusNotifierItem-PID-1" as registered (a unique name would do too).
        const [dest, path = "/StatusNotifierItem"] = item.split(/(?=\/)/);
        return gdbus(address, "--dest", dest!, "--object-path", path, "--method", "org.freedesktop.DBus.Properties.Get", "org.kde.StatusNotifierItem", "ToolTip");
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Starts the panel, saves one screenshot of the tray in it, and stops. */
export async function screenshotTrayInPanel(out: string, state: "good" | "degraded" = "degraded"): Promise<PanelShot> {
  const session = await startPanel(state);
  try {
    return session.screenshot(out);
  } finally {
    await session.stop();
  }
}

if (import.meta.main) {
  const out = process.argv[2] ?? join(REPO, "artifacts/tray-panel.png");
  const r = await screenshotTrayInPanel(out);
  console.log(`saved ${r.file}; registered: ${r.registeredItems.trim()}`);
}
