// The daemon's config and state directories, left with a wider mode (made by hand, by a copy, by an older release), are
// made 0700 at start, and the log says so; before, only the files in them (and the logs) were tightened.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { removeHome, startDaemon, tempHome, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";

let d: DaemonProc | undefined;
const home = tempHome("c2l-dirs-");
afterAll(async () => {
  await d?.stop();
  removeHome(home);
});

const mode = (dir: string) => (statSync(dir).mode & 0o777).toString(8);

test("a config or state directory others can enter is made 0700 at start, and the log says so", async () => {
  const config = join(home, ".config/cloudtolocalllm");
  const state = join(home, ".local/state/cloudtolocalllm");
  for (const dir of [config, state]) {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
  }
  d = await startDaemon({ home, config: TEST_DAEMON_TOML, waitFor: ["api"] });
  expect([mode(config), mode(state)]).toEqual(["700", "700"]);
  expect(d.stderr()).toContain("the config directory was open to other users; its mode is now 0700");
  expect(d.stderr()).toContain("the state directory was open to other users; its mode is now 0700");
  await d.stop();
  // Private already: nothing to say at the next start.
  d = await startDaemon({ home, config: undefined, waitFor: ["api"] });
  expect(d.stderr()).not.toContain("open to other users");
}, 60_000);
