// The tray in a real panel (xfce4-panel's systray under Xvfb): its icon drawn (artifacts/tray-panel.png), and its tooltip
// on hover, whose screenshot README shows (docs/screenshots/tray-tooltip.png, rewritten only under C2L_UPDATE_SCREENSHOTS=1).
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { join } from "node:path";
import { REPO } from "../helpers/daemon.ts";
import { changedBox, colourBox, crop, startPanel, type PanelSession, type PanelShot } from "./panel.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, beforeAll, describe, test } = requireTools(["Xvfb", "xfce4-panel", "dbus-daemon", "gdbus", "xdotool", "import", "convert", "identify"]);

const ARTIFACTS = join(REPO, "artifacts");
/** The committed screenshot is rewritten only when asked (C2L_UPDATE_SCREENSHOTS=1); otherwise it goes to artifacts/. */
const TOOLTIP_SHOT = process.env.C2L_UPDATE_SCREENSHOTS === "1" ? join(REPO, "docs/screenshots/tray-tooltip.png") : join(ARTIFACTS, "tray-tooltip.png");
/** The dark-blue tile of our icon: where the pointer goes. */
const TILE: [number, number, number] = [0x1f, 0x3b, 0x5c];
/** The panel's height (PANEL_XML in panel.ts): below it the screen is empty until a tooltip opens. */
const PANEL_HEIGHT = 48;

let session: PanelSession;
let panelShot: PanelShot;

describe("tray in a real panel", () => {
  beforeAll(async () => {
    session = await startPanel("degraded");
    panelShot = session.screenshot(join(ARTIFACTS, "tray-panel.png"));
  }, 60_000);
  afterAll(async () => {
    await session?.stop();
  }, 15_000);

  test("xfce4-panel registers the item and draws the degraded icon", () => {
    expect(panelShot.registeredItems).toMatch(/org\.kde\.StatusNotifierItem-\d+-1/);
    // the amber badge and the dark-blue tile of our icon are on screen; the red "critical" badge is not
    expect(panelShot.pixelsNear([0xe0, 0xa1, 0x00])).toBeGreaterThan(15);
    expect(panelShot.pixelsNear(TILE, 10)).toBeGreaterThan(40);
    expect(panelShot.pixelsNear([0xd3, 0x3a, 0x2f], 10)).toBe(0);
  });

  test("pointing at the icon opens the panel's tooltip with the verdict (reason and fix) and the cloud URL", async () => {
    // What the panel reads for the tooltip: the problem with its reason and fix first, and the URL cloud clients use.
    const tip = session.tooltip();
    expect(tip).toContain("gpu-box is down: connection refused — is Ollama running? `systemctl --user start ollama` or `ollama serve`");
    expect(tip).toContain("Cloud URL: https://relay.example.com/t/alice/");

    const icon = colourBox(panelShot.pixels, TILE);
    expect(icon).not.toBeNull();
    session.pointerTo(Math.round(icon!.x + icon!.width / 2), Math.round(icon!.y + icon!.height / 2));
    // GTK opens a tooltip once the pointer rests (about half a second); below the panel nothing else draws.
    const below = { x: 0, y: PANEL_HEIGHT, width: panelShot.pixels.width, height: panelShot.pixels.height - PANEL_HEIGHT };
    let shot = panelShot;
    let tooltip: ReturnType<typeof changedBox> = null;
    for (const end = Date.now() + 8_000; Date.now() < end; ) {
      await Bun.sleep(300);
      shot = session.screenshot(join(ARTIFACTS, "tray-tooltip-screen.png"));
      tooltip = changedBox(panelShot.pixels, shot.pixels, below);
      // a tooltip of several lines, not a stray pixel; wait one more frame for it to finish drawing
      if (tooltip && tooltip.height > 60 && tooltip.width > 200) {
        await Bun.sleep(300);
        shot = session.screenshot(join(ARTIFACTS, "tray-tooltip-screen.png"));
        tooltip = changedBox(panelShot.pixels, shot.pixels, below);
        break;
      }
    }
    expect(tooltip).not.toBeNull();
    expect(tooltip!.height).toBeGreaterThan(60); // title + the verdict, upstream, tunnel and cloud URL lines
    expect(tooltip!.width).toBeGreaterThan(200);

    // The panel's right part with the icon and the whole tooltip, with a margin.
    const m = 8;
    const x0 = Math.max(0, Math.min(tooltip!.x, icon!.x) - m);
    const x1 = Math.min(shot.pixels.width, Math.max(tooltip!.x + tooltip!.width, icon!.x + icon!.width) + m);
    const y1 = Math.min(shot.pixels.height, tooltip!.y + tooltip!.height + m);
    crop(shot.file, { x: x0, y: 0, width: x1 - x0, height: y1 }, TOOLTIP_SHOT);
  }, 30_000);
});
