// A permissive umask (000, as some desktop sessions and containers set) must not make the token, keys or secrets readable by other users.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, removeHome, startDaemon, tempHome } from "../helpers/daemon.ts";

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
  // No config written beforehand: the first run creates it, its directory and the API token.
  const d = await startDaemon({ home, binary: wrapper });
  try {
    for (const args of [["key", "create", "k"], ["config", "backup"]]) expect(Bun.spawnSync([wrapper, ...args], { env: d.env }).exitCode).toBe(0);
  } finally {
    await d.stop();
  }
  const found = { ...modes(join(home, ".config/cloudtolocalllm")), ...modes(join(home, ".local/state/cloudtolocalllm")) };
  expect(Object.keys(found).length).toBeGreaterThanOrEqual(5);
  for (const [p, m] of Object.entries(found)) expect({ p, m }).toEqual({ p, m: statSync(join(home, p)).isDirectory() ? "700" : "600" });
}, 60_000);
