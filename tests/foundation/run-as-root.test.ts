// `sudo cloudtolocalllm-tunnel serve`: the daemon runs (root may mean it), but says at once whose daemon it is.
import { expect } from "bun:test";
import { removeHome, startDaemon, TEST_DAEMON_TOML } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { ROOT } from "../helpers/other-user.ts";

requireTools(["setpriv", ROOT]).test("serve through sudo warns that this is root's daemon, which the user's commands and tray cannot use; plain root does not", async () => {
  for (const [sudoUser, warned] of [["alice", true], ["root", false]] as const) {
    const d = await startDaemon({ config: TEST_DAEMON_TOML, env: { SUDO_USER: sudoUser } });
    try {
      await d.waitFor(/daemon: started/, 10_000);
      const warning = /running as root through sudo: this is root's daemon \(its config, token and the ports\), which alice's commands and tray cannot use; stop it and run serve without sudo/;
      expect(d.count(warning)).toBe(warned ? 1 : 0);
    } finally {
      await d.stop();
      removeHome(d.home);
    }
  }
}, 60_000);
