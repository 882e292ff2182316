// Integration: a real daemon reloads its config on an in-place write, a rename-over save and SIGHUP, and keeps the last good config on an invalid edit.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, cpSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { ROOT } from "../helpers/other-user.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { newKey } from "../../src/gateway/keys.ts";

// Real processes on a busy machine: more than bun's 5 s default.
setDefaultTimeout(30_000);

// Loopback, ephemeral ports; an upstream nobody listens on (port 9, discard) so nothing real is touched.
const base = (extra = "") => `
[api]
listen = "127.0.0.1:0"
[proxy]
listen = "127.0.0.1:0"
[[upstreams]]
name = "local"
url = "http://127.0.0.1:9"
${extra}
`;

async function healthz(d: DaemonProc): Promise<number> {
  return (await fetch(`${d.urls.api}/healthz`)).status;
}

describe("hot reload through the directory watch", () => {
  let d: DaemonProc;
  beforeAll(async () => {
    d = await startDaemon({ config: base() });
    await d.waitFor(/daemon: started/);
  });
  afterAll(async () => {
    await d?.stop();
    if (d) removeHome(d.home);
  });

  test("an in-place write is applied", async () => {
    writeFileSync(d.configFile, base('[logging]\nlevel = "debug"\n'));
    expect(await d.waitFor(/configuration reloaded sections=logging/)).toBeTruthy();
  });

  test("a rename-over save is applied, and the next one too (the watch survives the rename)", async () => {
    const tmp = join(d.home, ".config/cloudtolocalllm/.tunnel.toml.swp");
    writeFileSync(tmp, base('[logging]\nlevel = "debug"\n[dashboard]\ninspector_size = 7\n'));
    renameSync(tmp, d.configFile);
    await d.waitFor(/configuration reloaded sections=dashboard/);
    writeFileSync(tmp, base('[logging]\nlevel = "debug"\n[dashboard]\ninspector_size = 7\n[health]\ninterval = "20s"\n'));
    renameSync(tmp, d.configFile);
    await d.waitFor(/configuration reloaded sections=health/);
  });

  test("an invalid edit is rejected with line and column, the daemon keeps serving on the last good config", async () => {
    // Also changes the log level to "error": had this file been applied, the info lines below would never appear.
    writeFileSync(d.configFile, base('[logging]\nlevel = "error"\n[dashboard]\ninspector_size = 7\ncapture_bodys = true\n[health]\ninterval = "20s"\n'));
    const line = await d.waitFor(/configuration rejected/);
    expect(line).toContain("line=13 column=1");
    expect(line).toContain("field=dashboard.capture_bodys");
    expect(line).toContain('did you mean \\"capture_bodies\\"?');
    expect(d.proc.exitCode).toBeNull();
    expect(await healthz(d)).toBe(200);
    // A valid save after that is compared with the last good config (level debug), not the rejected one.
    writeFileSync(d.configFile, base('[logging]\nlevel = "debug"\n[dashboard]\ninspector_size = 7\n[health]\ninterval = "20s"\n[alerts]\nenabled = false\n'));
    // Exactly `alerts`: had the rejected file been applied, `logging` would have changed too (and silenced this line).
    await d.waitFor(/configuration reloaded sections=alerts$/);
    expect(await healthz(d)).toBe(200);
  });

  test("a slow writer (`cat > tunnel.toml` fed by a slow pipe) is waited for: its valid first part is never applied on its own", async () => {
    const reloaded = d.count(/configuration reloaded/);
    const first = base('[logging]\nlevel = "debug"\n[dashboard]\ninspector_size = 7\n[health]\ninterval = "20s"\n[alerts]\nenabled = true\n[metrics]\nwindow = "3m"\n');
    const writer = Bun.spawn(["bash", "-c", `(printf '%s' "$1"; sleep 1; printf '%s' "$2") | cat > "$0"`, d.configFile, first, "[quality]\npoor_latency_ms = 7777\n"]);
    expect(await writer.exited).toBe(0);
    const line = await d.waitFor(/configuration reloaded sections=\S*quality/);
    expect(line).toContain("metrics");
    expect(d.count(/configuration reloaded/)).toBe(reloaded + 1);
    expect(d.count(/waiting for the program writing the config file/)).toBeGreaterThan(0);
  });

  test("a program that keeps the config file open for writing (an IDE; `exec 3>>tunnel.toml` in a shell) holds a save back only until it has been unchanged for 5 s", async () => {
    const holder = Bun.spawn(["bash", "-c", `exec 3>>"$0"; echo open; exec sleep 600`, d.configFile], { stdout: "pipe" });
    try {
      const reader = holder.stdout.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe("open\n");
      const reloaded = d.count(/configuration reloaded/);
      writeFileSync(d.configFile, base('[logging]\nlevel = "debug"\n[quality]\npoor_latency_ms = 4321\n'));
      await until(() => d.count(/configuration reloaded/) > reloaded, 20_000, "the held file's save applied");
      expect(d.count(/reading the config file a program keeps open for writing/)).toBe(1);
      const config = (await (await fetch(`${d.urls.api}/api/v1/status`)).json()) as { daemon: { lastReload: { ok: boolean } } };
      expect(config.daemon.lastReload.ok).toBe(true);
      expect(d.count(/configuration reloaded/)).toBe(reloaded + 1);
    } finally {
      holder.kill();
      await holder.exited;
    }
  });

  test("a file that sets nothing (empty, whitespace, comments only) or is over 1 MiB is rejected, not applied as all defaults", async () => {
    const reloaded = d.count(/configuration reloaded/);
    const saves: [string, RegExp][] = [
      ["", /the file sets nothing/],
      ["  \n\n\t\n", /the file sets nothing/],
      ["# cloudtolocalllm-tunnel configuration\n# [api]\n# listen = \"127.0.0.1:8765\"\n[api]\n", /the file sets nothing/],
      [base() + "#".repeat(2 * 1024 * 1024) + "\n", /the file is over 1 MiB; a config file may be at most 1 MiB/],
    ];
    for (const [i, [text, why]] of saves.entries()) {
      writeFileSync(d.configFile, text);
      await until(() => d.count(/configuration rejected/) >= 2 + i, 10_000, `rejection #${i + 1}`);
      const line = d.stderr().split("\n").filter((l) => /configuration rejected/.test(l)).at(-1)!;
      expect(line).toMatch(why);
      if (i < 3) expect(line).toContain("delete the file and restart the daemon");
    }
    // Applied as defaults, the API would have moved to 127.0.0.1:8765 and the upstream to :11434.
    expect(d.count(/configuration reloaded/)).toBe(reloaded);
    expect(d.count(/moving the control API/)).toBe(0);
    expect(await healthz(d)).toBe(200);
    const status = (await (await fetch(`${d.urls.api}/api/v1/status`)).json()) as { daemon: { lastReload: { ok: boolean; error?: { message: string } } } };
    expect(status.daemon.lastReload.ok).toBe(false);
    // A good save still applies after that.
    writeFileSync(d.configFile, base('[logging]\nlevel = "debug"\n[dashboard]\ninspector_size = 7\n[health]\ninterval = "20s"\n[alerts]\nenabled = true\n'));
    await until(() => d.count(/configuration reloaded/) > reloaded, 10_000, "the good save");
    expect(await healthz(d)).toBe(200);
  });
});

test("SIGHUP reloads a change the watch cannot see (config file hard-linked from another directory)", async () => {
  const home = tempHome();
  const other = join(home, "dotfiles", "tunnel.toml");
  mkdirSync(join(home, "dotfiles"));
  writeFileSync(other, base());
  mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
  // Same file, other directory: an in-place write there never shows up in a watch of the config directory.
  linkSync(other, join(home, ".config/cloudtolocalllm/tunnel.toml"));
  const d = await startDaemon({ home });
  try {
    // The watch is set up once the daemon has started; a change before that would be picked up as a late save.
    await d.waitFor(/daemon: started/);
    writeFileSync(other, base('[metrics]\nwindow = "1m"\n'));
    await Bun.sleep(400); // longer than the watcher's debounce: nothing may happen by itself
    expect(d.stderr()).not.toContain("configuration reloaded");
    d.proc.kill("SIGHUP");
    await d.waitFor(/configuration reloaded sections=metrics/);
    expect(await healthz(d)).toBe(200);
    const code = await d.stop("SIGINT");
    expect(code).toBe(0);
  } finally {
    await d.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

test("a symlinked config is watched at its target too", async () => {
  const home = tempHome();
  const real = join(home, "dotfiles", "tunnel.toml");
  mkdirSync(join(home, "dotfiles"));
  writeFileSync(real, base());
  mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
  symlinkSync(real, join(home, ".config/cloudtolocalllm/tunnel.toml"));
  const d = await startDaemon({ home });
  try {
    await d.waitFor(/daemon: started/);
    writeFileSync(real, base('[metrics]\nwindow = "2m"\n'));
    await d.waitFor(/configuration reloaded sections=metrics/);
  } finally {
    await d.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

test("the config directory replaced whole (a restore, a dotfiles checkout): the saves after it are still applied", async () => {
  const home = tempHome();
  const d = await startDaemon({ home, config: base() });
  try {
    await d.waitFor(/daemon: started/);
    const dir = join(home, ".config/cloudtolocalllm");
    const next = join(home, ".config/cloudtolocalllm.new");
    mkdirSync(next);
    writeFileSync(join(next, "tunnel.toml"), base('[metrics]\nwindow = "2m"\n'));
    cpSync(join(dir, "api-token"), join(next, "api-token"));
    rmSync(dir, { recursive: true });
    renameSync(next, dir);
    await d.waitFor(/configuration reloaded sections=metrics/);
    // Only a watch of the new directory sees this one (the old directory's watch went with it).
    writeFileSync(d.configFile, base('[metrics]\nwindow = "2m"\n[health]\ninterval = "20s"\n'));
    await d.waitFor(/configuration reloaded sections=health/);
    expect(await healthz(d)).toBe(200);
  } finally {
    await d.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

test("a file of gigabytes (a log redirected into it) is rejected for its size and never read whole", async () => {
  const home = tempHome();
  const d = await startDaemon({ home, config: base() });
  try {
    await d.waitFor(/daemon: started/);
    // Sparse: 3 GiB on paper, nothing on the disk. Read whole, it held the daemon at 3 GiB and was then ignored unreported.
    writeFileSync(d.configFile, base('[metrics]\nwindow = "2m"\n'));
    truncateSync(d.configFile, 3 * 1024 ** 3);
    const line = await d.waitFor(/configuration rejected/);
    expect(line).toContain("the file is over 1 MiB; a config file may be at most 1 MiB");
    const status = (await (await fetch(`${d.urls.api}/api/v1/status`)).json()) as { daemon: { lastReload: { ok: boolean } } };
    expect(status.daemon.lastReload.ok).toBe(false);
    const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${d.proc.pid}/status`, "utf8"))![1]);
    expect(peakKiB).toBeLessThan(512 * 1024);
  } finally {
    await d.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

test("a config of gigabytes replaced through the API (the dashboard's save) is set aside whole but never read into the daemon", async () => {
  const home = tempHome();
  const d = await startDaemon({ home, config: base() });
  try {
    await d.waitFor(/daemon: started/);
    // Sparse: 768 MiB on paper. The save backs the current file up first; copied through memory it held the daemon at
    // the file's size, where the reload's read of the same file costs 1 MiB.
    writeFileSync(d.configFile, base('[metrics]\nwindow = "2m"\n'));
    truncateSync(d.configFile, 768 * 1024 ** 2);
    await d.waitFor(/configuration rejected/);
    const token = (await Bun.file(join(home, ".config/cloudtolocalllm/api-token")).text()).trim();
    const r = await fetch(`${d.urls.api}/api/v1/config`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/toml" },
      body: base('[logging]\nlevel = "debug"\n'),
    });
    expect(r.status).toBe(200);
    expect(readFileSync(d.configFile, "utf8")).toBe(base('[logging]\nlevel = "debug"\n'));
    const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${d.proc.pid}/status`, "utf8"))![1]);
    expect(peakKiB).toBeLessThan(512 * 1024);
    // Nothing is lost: the replaced file is in the newest backup, whole.
    const dir = join(home, ".local/state/cloudtolocalllm/backups");
    const newest = readdirSync(dir).filter((f) => f.endsWith(".toml")).sort().at(-1)!;
    expect(statSync(join(dir, newest)).size).toBe(768 * 1024 ** 2);
    // Restored through the API, it is refused for its size (422) without being read whole either.
    const restore = await fetch(`${d.urls.api}/api/v1/config/backups/${newest.slice(0, -5)}/restore`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect(restore.status).toBe(422);
    expect(await restore.text()).toContain("a config file may be at most 1 MiB");
    expect(Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${d.proc.pid}/status`, "utf8"))![1])).toBeLessThan(512 * 1024);
    expect(readFileSync(d.configFile, "utf8")).toBe(base('[logging]\nlevel = "debug"\n'));
  } finally {
    await d.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

test("a gateway key pasted as relay_url is rejected without quoting it in any case: not in the log, the open status or the advice", async () => {
  const home = tempHome();
  const d = await startDaemon({ home, config: base() });
  try {
    await d.waitFor(/daemon: started/);
    // Before, the advice quoted it lowercased ("use wss://c2l_abc…/agent": a URL's host is case-folded), which
    // [redacted] did not catch, and the key's case is all that is left to guess.
    const key = newKey();
    writeFileSync(d.configFile, base(`[tunnel]\nrelay_url = "${key}"\n`));
    const line = await d.waitFor(/configuration rejected/);
    expect(line).toContain("[redacted]");
    const status = await (await fetch(`${d.urls.api}/api/v1/status`)).text();
    expect(status).toContain("tunnel.relay_url");
    const secret = key.slice(4).toLowerCase();
    for (const seen of [d.stderr(), status]) expect(seen.toLowerCase()).not.toContain(secret.slice(0, 16));
  } finally {
    await d.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

requireTools(["setpriv", ROOT]).test("a save the daemon cannot read (chmod 000, a root-owned file moved in) is reported, not passed over in silence", async () => {
  const home = tempHome();
  // Root reads any file: the daemon runs without the capabilities that let it, as a normal user's daemon would.
  const wrapper = join(home, "daemon-without-dac");
  writeFileSync(wrapper, `#!/bin/sh\nexec setpriv --bounding-set=-dac_override,-dac_read_search ${BUN} ${join(REPO, "src/main.ts")} "$@"\n`, { mode: 0o755 });
  const d = await startDaemon({ home, config: base(), binary: wrapper });
  try {
    await d.waitFor(/daemon: started/);
    writeFileSync(d.configFile, base('[metrics]\nwindow = "2m"\n'));
    chmodSync(d.configFile, 0);
    const line = await d.waitFor(/configuration rejected/);
    expect(line).toContain("permission denied");
    const status = async () => ((await (await fetch(`${d.urls.api}/api/v1/status`)).json()) as { daemon: { lastReload: { ok: boolean } } }).daemon.lastReload;
    expect((await status()).ok).toBe(false);
    // Readable again: read, applied, and the rejection cleared.
    chmodSync(d.configFile, 0o600);
    await d.waitFor(/configuration reloaded sections=metrics/);
    expect((await status()).ok).toBe(true);
    expect(d.count(/configuration rejected/)).toBe(1);
  } finally {
    await d.stop();
    rmSync(home, { recursive: true, force: true });
  }
});

test("a reload or a PUT with a duration under its floor ([health] interval = \"1ms\", timeout = \"0s\", an upstream's first_byte_timeout = \"0s\") is refused naming the field and the minimum; the old config keeps running", async () => {
  const home = tempHome();
  const good = base('[health]\ninterval = "20s"\n');
  const d = await startDaemon({ home, config: good });
  try {
    await d.waitFor(/daemon: started/);
    const auth = { authorization: `Bearer ${(await Bun.file(join(home, ".config/cloudtolocalllm/api-token")).text()).trim()}` };
    // base()'s extra follows the upstream's url: first_byte_timeout lands in [[upstreams]], the rest in [health].
    const saves: [string, string, string][] = [
      ['[health]\ninterval = "1ms"\n', "health.interval", '\\"1ms\\" is below the minimum 100ms: closer health checks would hammer the upstream'],
      ['[health]\ninterval = "20s"\ntimeout = "0s"\n', "health.timeout", '\\"0s\\" is below the minimum 100ms: every health check would time out'],
      ['first_byte_timeout = "0s"\n[health]\ninterval = "20s"\n', "upstreams[0].first_byte_timeout", '\\"0s\\" is below the minimum 100ms: every request would time out'],
    ];
    for (const [i, [extra, field, why]] of saves.entries()) {
      writeFileSync(d.configFile, base(extra));
      await until(() => d.count(/configuration rejected/) >= i + 1, 10_000, `the save with ${field} refused`);
      const line = d.stderr().split("\n").filter((l) => /configuration rejected/.test(l)).at(-1)!;
      expect(line).toContain(`field=${field}`);
      expect(line).toContain(why);
      // Through the API (the dashboard's save): 422, nothing written.
      const put = await fetch(`${d.urls.api}/api/v1/config`, { method: "PUT", headers: { ...auth, "content-type": "application/toml" }, body: base(extra) });
      expect({ field, status: put.status }).toEqual({ field, status: 422 });
      expect(JSON.stringify(await put.json())).toContain("below the minimum 100ms");
    }
    // Before: each was applied ("configuration reloaded sections=health"), a check every millisecond, or one that always failed.
    expect(d.count(/configuration reloaded/)).toBe(0);
    const running = (await (await fetch(`${d.urls.api}/api/v1/config`, { headers: auth })).json()) as { config: { health: { interval: string; timeout: string }; upstreams: { first_byte_timeout: string }[] } };
    expect({ interval: running.config.health.interval, timeout: running.config.health.timeout, fbt: running.config.upstreams[0]!.first_byte_timeout }).toEqual({ interval: "20s", timeout: "3s", fbt: "300s" });
    const status = (await (await fetch(`${d.urls.api}/api/v1/status`)).json()) as { daemon: { lastReload: { ok: boolean } } };
    expect(status.daemon.lastReload.ok).toBe(false);
    // `config validate` refuses the file the same way.
    const v = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "config", "validate", d.configFile], { env: d.env });
    expect({ code: v.exitCode, err: v.stderr.toString() }).toMatchObject({ code: 2, err: expect.stringContaining('upstreams[0].first_byte_timeout: "0s" is below the minimum 100ms') });
    // A good save still applies after that.
    writeFileSync(d.configFile, base('[health]\ninterval = "15s"\n'));
    await d.waitFor(/configuration reloaded sections=health/);
    expect(await healthz(d)).toBe(200);
  } finally {
    await d.stop();
    rmSync(home, { recursive: true, force: true });
  }
});
