// The relay's `listen = "localhost:PORT"` on a system whose /etc/hosts lists ::1 first: bound at 127.0.0.1, as the daemon binds it.
import { afterAll, expect } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../bench/lib/proc.ts";
import { mountNamespace, namespaceWrapper } from "../helpers/mount-namespace.ts";
import { spawnLogged } from "../helpers/process.ts";
import { requireTools } from "../helpers/requires.ts";
import { RUNTIME_ENV } from "../../src/core/runtime-tuning.ts";
import { relayToml } from "../tunnel/helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "c2l-relay-localhost-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

requireTools(["unshare", "mount", mountNamespace]).test("listen = \"localhost:PORT\" with ::1 listed first in /etc/hosts: the relay answers at 127.0.0.1:PORT", async () => {
  const hosts = join(dir, "hosts");
  writeFileSync(hosts, "::1 localhost ip6-localhost\n127.0.0.1 localhost\n");
  const port = freePort();
  const configFile = join(dir, "relay.toml");
  writeFileSync(configFile, relayToml({ listen: `localhost:${port}` }), { mode: 0o600 });
  const wrapper = namespaceWrapper(join(dir, "in-ns"), `mount --bind '${hosts}' /etc/hosts || exit 97`);
  const relay = spawnLogged([wrapper, "relay", "--config", configFile], { env: { ...RUNTIME_ENV, PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir }, cwd: dir, label: "relay", debugEnv: "DEBUG_RELAY" });
  try {
    await relay.waitFor(/relay: .*listening.* url=/, 20_000);
    const r = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { status: string }).status).toBe("ok");
  } finally {
    await relay.stop();
  }
}, 60_000);
