// A read-only home (a live system, a locked-down container): `serve`, `doctor` and `install` name every path the daemon
// writes (the config file, the API token, its state), not only the first that failed.
import { afterAll, expect } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { homeEnv, removeHome, tempHome, TEST_DAEMON_TOML } from "../helpers/daemon.ts";
import { mountNamespace, namespaceWrapper, readOnly } from "../helpers/mount-namespace.ts";
import { requireTools } from "../helpers/requires.ts";

const homes: string[] = [];
afterAll(() => homes.forEach(removeHome));

/** Runs the CLI with `home` mounted read-only; stdout and stderr together. */
function runReadOnly(home: string, ...args: string[]): { code: number; text: string } {
  const wrapper = namespaceWrapper(join(home, "..", `${home.split("/").at(-1)}-ro.sh`), readOnly(home));
  const r = Bun.spawnSync([wrapper, ...args], { env: homeEnv(home), stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  return { code: r.exitCode ?? -1, text: r.stdout.toString() + r.stderr.toString() };
}

requireTools(["unshare", "mount", mountNamespace]).test("a read-only HOME: serve (first run and with a config), doctor and install name the config file, the API token and the state directory", () => {
  const fresh = tempHome("c2l-rohome-");
  const configured = tempHome("c2l-rohome-");
  homes.push(fresh, configured);
  mkdirSync(join(configured, ".config/cloudtolocalllm"), { recursive: true });
  writeFileSync(join(configured, ".config/cloudtolocalllm/tunnel.toml"), TEST_DAEMON_TOML);
  const binary = join(configured, "..", `${configured.split("/").at(-1)}-bin`);
  writeFileSync(binary, "#!/bin/sh\n");
  chmodSync(binary, 0o755);
  const places = (home: string) => [join(home, ".config/cloudtolocalllm/tunnel.toml"), join(home, ".config/cloudtolocalllm/api-token"), join(home, ".local/state/cloudtolocalllm")];
  const runs: [string, string[], number][] = [
    [fresh, ["serve"], 2],
    [configured, ["serve"], 1],
    [configured, ["doctor"], 1],
    [configured, ["install", "--binary", binary, "--no-enable"], 1],
  ];
  for (const [home, args, code] of runs) {
    const r = runReadOnly(home, ...args);
    expect({ args, code: r.code }).toEqual({ args, code });
    expect({ args, text: r.text }).toMatchObject({ args, text: expect.stringContaining("read-only") });
    expect({ args, text: r.text }).toMatchObject({ args, text: expect.stringContaining(`the API token ${places(home)[1]}`) });
    for (const p of places(home)) expect({ args, p, named: r.text.includes(p) }).toEqual({ args, p, named: true });
  }
}, 90_000);
