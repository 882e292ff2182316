// The tray command against a real daemon process: it follows the real /ws, menu clicks reach the real control API with the token (cases in tray-cases.ts).
import { requireTools } from "../helpers/requires.ts";
import { startTrayFixture, stopTrayFixture, trayCases, type TrayFixture } from "./tray-cases.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const guarded = requireTools(["dbus-daemon"]);

let fx: TrayFixture;
guarded.beforeAll(async () => {
  fx = await startTrayFixture("command");
}, 60_000);
guarded.afterAll(() => stopTrayFixture(fx), 30_000);

trayCases("tray with a real daemon", guarded, () => fx);
