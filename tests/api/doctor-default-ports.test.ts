// `doctor` while another daemon holds the default ports (the README's `npm start`, another user's): a config with errors is not judged by the defaults' addresses.
import { afterAll, expect } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, homeEnv, removeHome, tempHome } from "../helpers/daemon.ts";
import { NETNS_NEEDS } from "../helpers/netns.ts";
import { requireTools } from "../helpers/requires.ts";

// unshare is in NETNS_NEEDS too; named here because the requires check reads this literal list.
const { test } = requireTools([...NETNS_NEEDS, "unshare"]);

const home = tempHome("c2l-doctor-defaults-");
afterAll(() => removeHome(home));

interface Check {
  name: string;
  level: string;
  detail: string;
}

test("a config with errors while another program holds 127.0.0.1:11435: no 'Broker port' failure for an address the file does not name", async () => {
  const file = join(home, ".config/cloudtolocalllm/tunnel.toml");
  mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
  // The user's file moves the broker off the default, and has a typo elsewhere (doctor's Config line names it).
  writeFileSync(file, `[api]\nlisten = "127.0.0.1:18765"\n[proxy]\nlisten = "127.0.0.1:21435"\nmax_attempts = "three"\n`);
  // The other daemon's broker on the default port: in a network namespace of its own, so the host's is never touched.
  const inside = [
    `const holder = Bun.listen({ hostname: "127.0.0.1", port: 11435, socket: { data() {} } });`,
    `const r = Bun.spawnSync([process.execPath, ${JSON.stringify(join(REPO, "src/main.ts"))}, "doctor", "--json"], { stdout: "pipe", stderr: "inherit" });`,
    `holder.stop(true);`,
    `process.stdout.write(r.stdout);`,
  ].join("\n");
  const p = Bun.spawn(["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', BUN, "-e", inside], {
    env: homeEnv(home),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const checks = (JSON.parse(out || JSON.stringify({ checks: [{ name: "no output", level: "fail", detail: err }] })) as { checks: Check[] }).checks;
  expect(checks.find((c) => c.name === "Config")).toMatchObject({ level: "fail", detail: expect.stringContaining("proxy.max_attempts") });
  expect(checks.find((c) => c.name === "Daemon")).toMatchObject({ level: "warn", detail: expect.stringContaining("not reachable at http://127.0.0.1:18765") });
  // Before: "✗ Broker port 127.0.0.1:11435 ([proxy] listen) is held by another program: the daemon cannot start while it is".
  expect(checks.filter((c) => c.name === "Broker port")).toEqual([]);
}, 60_000);
