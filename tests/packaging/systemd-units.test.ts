// Every unit passes `systemd-analyze verify` without a single warning; desktop entries and metainfo are well-formed.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../helpers/daemon.ts";
import { verifyUnit } from "./systemd-verify.ts";
import { findCommand } from "../../src/cli/commands.ts";
import { parseRelayConfig, relayMs } from "../../src/relay/config.ts";
import { requireTools } from "../helpers/requires.ts";
import { RUNTIME_ENV } from "../../src/core/runtime-tuning.ts";

const tmp = mkdtempSync(join(tmpdir(), "c2l-units-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// verify checks that ExecStart's binary exists: point the copies at a real executable.
const stub = join(tmp, "cloudtolocalllm-tunnel");
writeFileSync(stub, "#!/bin/sh\nexit 0\n");
chmodSync(stub, 0o755);

function copyUnit(name: string, replace: (t: string) => string = (t) => t): string {
  const dest = join(tmp, name);
  writeFileSync(dest, replace(readFileSync(join(REPO, "systemd", name), "utf8").split("/usr/bin/cloudtolocalllm-tunnel").join(stub)));
  return dest;
}

const UNITS = readdirSync(join(REPO, "systemd")).filter((f) => f.endsWith(".service"));

describe("systemd units", () => {
  test("the two units exist: one process per desktop (the daemon shows the tray itself), the relay", () => {
    expect(UNITS.sort()).toEqual(["cloudtolocalllm-relay.service", "cloudtolocalllm-tunnel.service"]);
  });

  for (const name of UNITS) {
    const user = name !== "cloudtolocalllm-relay.service";
    requireTools(["systemd-analyze"]).test(`systemd-analyze ${user ? "--user " : ""}verify ${name}: no errors, no warnings`, () => {
      const r = verifyUnit(copyUnit(name), user, tmp);
      expect(r.output).toBe("");
      expect(r.code).toBe(0);
    });
  }

  // The relay runs as a dynamic user, which cannot read a root-only relay.toml (where a Redis password lives): the
  // documented drop-in hands it over as a credential, and what it says is a unit systemd accepts.
  requireTools(["systemd-analyze"]).test("docs/relay-cluster.md's drop-in hands relay.toml and the secret over as credentials and verifies on the relay unit", () => {
    const md = readFileSync(join(REPO, "docs/relay-cluster.md"), "utf8");
    const dropIn = /```ini\n([\s\S]*?)```/.exec(md)![1]!;
    const lines = dropIn.split("\n");
    expect(lines).toContain("LoadCredential=relay.toml:/etc/cloudtolocalllm-relay/relay.toml");
    expect(lines).toContain("LoadCredential=cluster-secret:/etc/cloudtolocalllm-relay/cluster.secret");
    expect(lines).toContain("ExecStart=/usr/bin/cloudtolocalllm-tunnel relay --config ${CREDENTIALS_DIRECTORY}/relay.toml");
    const unit = copyUnit("cloudtolocalllm-relay.service");
    mkdirSync(`${unit}.d`, { recursive: true });
    writeFileSync(join(`${unit}.d`, "cluster.conf"), dropIn.split("/usr/bin/cloudtolocalllm-tunnel").join(stub));
    try {
      const r = verifyUnit(unit, false, tmp);
      expect(r.output).toBe("");
      expect(r.code).toBe(0);
    } finally {
      rmSync(`${unit}.d`, { recursive: true, force: true });
    }
  });

  // The drop-in's comment and "Replacing a node" promise a stop bound: drain_delay plus at most go_away_grace and 4 s.
  // systemd SIGKILLs a node still draining at TimeoutStopSec, cutting the streams the drain was for.
  test("docs/relay-cluster.md's TimeoutStopSec outlasts the documented shutdown of a node with the doc's relay.toml", () => {
    const md = readFileSync(join(REPO, "docs/relay-cluster.md"), "utf8");
    const stop = /^TimeoutStopSec=(\d+)s$/m.exec(/```ini\n([\s\S]*?)```/.exec(md)![1]!);
    expect(stop).not.toBeNull();
    const parsed = parseRelayConfig(/```toml\n([\s\S]*?)```/.exec(md)![1]!);
    if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join("; "));
    const ms = relayMs(parsed.config);
    expect(md).toContain("Shutdown therefore takes `drain_delay` plus at most `go_away_grace` and 4 s");
    expect(Number(stop![1]) * 1000).toBeGreaterThan(ms.cluster.drain_delay + ms.go_away_grace + 4_000);
  });

  requireTools(["systemd-analyze"]).test("the check can fail: an unknown key and a missing binary are reported", () => {
    const bad = copyUnit("cloudtolocalllm-tunnel.service", (t) => t.replace("[Service]", "[Service]\nWatchdogSecs=5").split(stub).join("/nonexistent/bin"));
    const r = verifyUnit(bad, true, tmp);
    expect(r.output).toContain("Unknown key 'WatchdogSecs'");
    expect(r.output).toContain("/nonexistent/bin");
    expect(r.code).not.toBe(0);
  });

  // A user manager has its own units (default.target, graphical-session.target, ...): a system unit such as
  // network-online.target named in a user unit does not exist there, and the dependency silently does nothing.
  requireTools(["systemd-analyze"]).test("user units order against and pull in only units a user manager has", () => {
    const userUnits = new Set(readdirSync("/usr/lib/systemd/user"));
    for (const name of UNITS.filter((n) => n !== "cloudtolocalllm-relay.service")) {
      const named = readFileSync(join(REPO, "systemd", name), "utf8")
        .split("\n")
        .filter((l) => /^(After|Before|Wants|Requires|Requisite|BindsTo|PartOf|WantedBy|RequiredBy)=/.test(l))
        .flatMap((l) => l.slice(l.indexOf("=") + 1).split(/\s+/).filter(Boolean));
      expect({ name, missing: named.filter((u) => !userUnits.has(u)) }).toEqual({ name, missing: [] });
    }
  });

  test("the user service is Type=notify with watchdog, reload and the user-unit hardening", () => {
    const t = readFileSync(join(REPO, "systemd/cloudtolocalllm-tunnel.service"), "utf8");
    for (const line of ["Type=notify", "NotifyAccess=main", "WatchdogSec=30s", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "NoNewPrivileges=yes", "LockPersonality=yes", "RestrictRealtime=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "WantedBy=default.target", "LimitCORE=0"])
      expect(t.split("\n")).toContain(line);
    expect(t).not.toMatch(/^ProtectHome=/m);
    expect(t).not.toMatch(/^MemoryDenyWriteExecute=/m);
    const relay = readFileSync(join(REPO, "systemd/cloudtolocalllm-relay.service"), "utf8");
    for (const line of ["DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=", "SystemCallFilter=@system-service", "LimitCORE=0"]) expect(relay.split("\n")).toContain(line);
    expect(relay).not.toMatch(/^MemoryDenyWriteExecute=/m);
    // The relay does not re-read its config: `systemctl reload` must not pretend to (its SIGHUP used to end the relay,
    // a "clean" signal systemd does not restart after; tests/tunnel/relay-process.test.ts).
    expect(relay).not.toMatch(/^ExecReload=/m);
  });

  test("every long-running process starts with the runtime settings of src/core/runtime-tuning.ts: the units and npm start", () => {
    const vars = Object.entries(RUNTIME_ENV).map(([k, v]) => `${k}=${v}`);
    expect(vars.length).toBeGreaterThan(0);
    for (const name of UNITS) {
      const lines = readFileSync(join(REPO, "systemd", name), "utf8").split("\n");
      for (const v of vars) expect(lines.filter((l) => l.startsWith("Environment=")).some((l) => l.slice("Environment=".length).split(" ").includes(v))).toBe(true);
    }
    const start = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start;
    for (const v of vars) expect(start.split(" ")).toContain(v);
  });
});

describe("desktop files", () => {
  function entry(name: string): Record<string, string> {
    const text = readFileSync(join(REPO, "packaging/desktop", name), "utf8");
    const main = text.split(/^\[Desktop Action /m)[0]!;
    expect(main.startsWith("[Desktop Entry]\n")).toBe(true);
    return Object.fromEntries(main.split("\n").slice(1).filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  }

  test("launcher runs the dashboard; the autostart entry starts the daemon unless systemd runs it, and no entry starts a tray process", () => {
    const launcher = entry("cloudtolocalllm-tunnel.desktop");
    expect(launcher).toMatchObject({ Type: "Application", Exec: "cloudtolocalllm-tunnel dashboard", Icon: "cloudtolocalllm-tunnel" });
    expect(launcher.Actions).toBeUndefined();
    const autostart = entry("cloudtolocalllm-tunnel-tray.desktop");
    expect(autostart.Exec).toContain("systemctl --user -q is-enabled cloudtolocalllm-tunnel.service");
    expect(autostart.Exec).toContain("exec cloudtolocalllm-tunnel serve");
    expect(autostart.NoDisplay).toBe("true");
    for (const f of readdirSync(join(REPO, "packaging/desktop")).filter((f) => f.endsWith(".desktop")))
      expect({ f, tray: readFileSync(join(REPO, "packaging/desktop", f), "utf8").includes("cloudtolocalllm-tunnel tray") }).toEqual({ f, tray: false });
  });

  test("the autostart entry in a real shell starts one process: none when the unit is enabled, the unit when systemd has it, else the daemon", () => {
    const exec = entry("cloudtolocalllm-tunnel-tray.desktop").Exec!;
    const script = /^sh -c "(.*)"$/.exec(exec)![1]!;
    const bin = join(tmp, "guard-bin");
    rmSync(bin, { recursive: true, force: true });
    mkdirSync(bin);
    const fake = (name: string, body: string) => (writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`), chmodSync(join(bin, name), 0o755));
    fake("cloudtolocalllm-tunnel", 'echo "started: $*"');
    const run = () => Bun.spawnSync(["/bin/sh", "-c", script], { env: { PATH: `${bin}:/usr/bin:/bin` } }).stdout.toString();
    // No user manager (or no unit): the daemon itself, which shows the tray.
    fake("systemctl", "exit 1");
    expect(run()).toBe("started: serve\n");
    // Enabled: systemd starts it at login; nothing more.
    fake("systemctl", 'echo "systemctl $*"; exit 0');
    expect(run()).toBe("systemctl --user -q is-enabled cloudtolocalllm-tunnel.service\n");
    // Installed but not enabled: started through systemd (which restarts it if it crashes), not as a bare process.
    fake("systemctl", 'echo "systemctl $*"; [ "$3" = start ]');
    expect(run()).toBe("systemctl --user -q is-enabled cloudtolocalllm-tunnel.service\nsystemctl --user -q start cloudtolocalllm-tunnel.service\n");
    // Masked (`systemctl --user mask`: never run it): nothing at all, not the bare daemon either.
    fake("systemctl", '[ "$2" = is-enabled ] && echo masked; exit 1');
    expect(run()).toBe("");
  });

  test("every command the units and entries run exists in the CLI", () => {
    const texts = [
      ...UNITS.map((u) => readFileSync(join(REPO, "systemd", u), "utf8")),
      ...readdirSync(join(REPO, "packaging/desktop")).filter((f) => f.endsWith(".desktop")).map((f) => readFileSync(join(REPO, "packaging/desktop", f), "utf8")),
    ];
    const used = new Set(texts.flatMap((t) => [...t.matchAll(/cloudtolocalllm-tunnel (\w+)/g)].map((m) => m[1]!)));
    expect([...used].sort()).toEqual(["dashboard", "relay", "serve"]);
    for (const c of used) expect(findCommand(c)?.name).toBe(c);
  });

  const GENERATOR = "/usr/lib/systemd/user-generators/systemd-xdg-autostart-generator";
  const generator = { name: "systemd's xdg-autostart generator", available: existsSync(GENERATOR), fix: "apt-get install systemd (246 or later)" };
  requireTools(["systemd-analyze", generator]).test("systemd's xdg-autostart generator turns the autostart entry into a valid unit", () => {
    const g = join(tmp, "generator");
    for (const d of ["xdg/autostart", "out", "bin", "home"]) mkdirSync(join(g, d), { recursive: true });
    copyFileSync(join(REPO, "packaging/desktop/cloudtolocalllm-tunnel-tray.desktop"), join(g, "xdg/autostart/cloudtolocalllm-tunnel-tray.desktop"));
    // TryExec= must resolve on PATH, as it does once the package is installed.
    copyFileSync(stub, join(g, "bin/cloudtolocalllm-tunnel"));
    chmodSync(join(g, "bin/cloudtolocalllm-tunnel"), 0o755);
    const env = { PATH: `${join(g, "bin")}:/usr/bin:/bin`, HOME: join(g, "home"), XDG_CONFIG_HOME: join(g, "home/.config"), XDG_CONFIG_DIRS: join(g, "xdg") };
    const out = join(g, "out");
    expect(Bun.spawnSync([GENERATOR, out, out, out], { env }).exitCode).toBe(0);
    const unit = join(out, "app-cloudtolocalllm\\x2dtunnel\\x2dtray@autostart.service");
    const text = readFileSync(unit, "utf8");
    expect(text).toContain("PartOf=graphical-session.target");
    expect(text).toContain('grep -q ^masked || systemctl --user -q start cloudtolocalllm-tunnel.service 2>/dev/null || exec cloudtolocalllm-tunnel serve"');
    expect(verifyUnit(unit, true, tmp)).toEqual({ code: 0, output: "" });
  });

  requireTools(["desktop-file-validate"]).test("desktop-file-validate accepts the entries: one main category, no hint or warning", () => {
    for (const f of readdirSync(join(REPO, "packaging/desktop")).filter((f) => f.endsWith(".desktop"))) {
      const r = Bun.spawnSync(["desktop-file-validate", join(REPO, "packaging/desktop", f)], { stdout: "pipe", stderr: "pipe" });
      expect({ f, out: (r.stdout.toString() + r.stderr.toString()).trim() }).toEqual({ f, out: "" });
      expect(r.exitCode).toBe(0);
    }
    // Main categories (freedesktop menu spec): more than one puts the launcher in several menus.
    const MAIN = ["AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics", "Network", "Office", "Science", "Settings", "System", "Utility"];
    const categories = entry("cloudtolocalllm-tunnel.desktop").Categories!.split(";").filter(Boolean);
    expect(categories.filter((c) => MAIN.includes(c))).toHaveLength(1);
  });

  requireTools(["appstreamcli"]).test("appstreamcli validates the metainfo", () => {
    const r = Bun.spawnSync(["appstreamcli", "validate", "--no-net", "--no-color", join(REPO, "packaging/desktop/io.github.cloudtolocalllm.Tunnel.metainfo.xml")]);
    expect(r.stdout.toString()).not.toMatch(/^[EW]:/m);
    expect(r.exitCode).toBe(0);
  });
});
