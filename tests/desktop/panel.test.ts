// The tray icon drawn by a real panel (xfce4-panel's systray under Xvfb); the screenshot is kept as artifacts/tray-panel.png.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { join } from "node:path";
import { REPO } from "../helpers/daemon.ts";
import { screenshotTrayInPanel } from "./panel.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { describe, test } = requireTools(["Xvfb", "xfce4-panel", "dbus-daemon", "gdbus", "import", "convert"]);

describe("tray in a real panel", () => {
  test("xfce4-panel registers the item and draws the degraded icon", async () => {
    const shot = await screenshotTrayInPanel(join(REPO, "artifacts/tray-panel.png"), "degraded");
    expect(shot.registeredItems).toMatch(/org\.kde\.StatusNotifierItem-\d+-1/);
    // the amber badge and the dark-blue tile of our icon are on screen; the red "critical" badge is not
    expect(shot.pixelsNear([0xe0, 0xa1, 0x00])).toBeGreaterThan(15);
    expect(shot.pixelsNear([0x1f, 0x3b, 0x5c], 10)).toBeGreaterThan(40);
    expect(shot.pixelsNear([0xd3, 0x3a, 0x2f], 10)).toBe(0);
  }, 60_000);
});
