// A permissive umask (000, as some desktop sessions and containers set) must not make the token, keys or secrets readable by other users.
import { afterAll, expect } from "bun:test";
import { chmodSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, removeHome, startDaemon, tempHome } from "../helpers/daemon.ts";
import { NETNS_NEEDS } from "../helpers/netns.ts";
import { requireTools } from "../helpers/requires.ts";

// unshare is in NETNS_NEEDS too; named here because the requires check reads this literal list.
const { test } = requireTools([...NETNS_NEEDS, "unshare"]);

const home = tempHome("c2l-umask-");
afterAll(() => removeHome(home));

function modes(dir: string, out: Record<string, string> = {}): Record<string, string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out[p.slice(home.length + 1)] = (statSync(p).mode & 0o777).toString(8);
    if (e.isDirectory()) modes(p, out);
  }
  return out;
}

test("under umask 000 the daemon's and the CLI's files are 0600 and their directories 0700", async () => {
  const wrapper = join(home, "umask-000");
  writeFileSync(wrapper, `#!/bin/sh\numask 000\nexec "${BUN}" "${join(REPO, "src/main.ts")}" "$@"\n`);
  chmodSync(wrapper, 0o755);
  // No config written beforehand: the first run creates it, its directory and the API token. Its defaults listen on
  // 8765 and 11435, which a daemon the user runs (`npm start`, then `npm test`, as the README goes) or another test
  // file may hold: the daemon runs in a network namespace of its own, where they are free.
  const serve = join(home, "umask-000-netns");
  writeFileSync(serve, `#!/bin/sh\numask 000\nexec unshare -rn sh -c 'ip link set lo up && exec "$0" "$@"' "${wrapper}" "$@"\n`);
  chmodSync(serve, 0o755);
  const d = await startDaemon({ home, binary: serve });
  try {
    for (const args of [["key", "create", "k"], ["config", "backup"]]) expect(Bun.spawnSync([wrapper, ...args], { env: d.env }).exitCode).toBe(0);
  } finally {
    await d.stop();
  }
  const found = { ...modes(join(home, ".config/cloudtolocalllm")), ...modes(join(home, ".local/state/cloudtolocalllm")) };
  expect(Object.keys(found).length).toBeGreaterThanOrEqual(5);
  for (const [p, m] of Object.entries(found)) expect({ p, m }).toEqual({ p, m: statSync(join(home, p)).isDirectory() ? "700" : "600" });
}, 60_000);
