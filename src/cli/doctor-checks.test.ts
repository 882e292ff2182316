// Unit tests for doctor's upstream and relay checks: each upstream probed where its kind says (src/kinds/), the relay where its protocol says,
// and a kind's fix when the server does not answer; the systemd unit line for each state the unit can be in.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import { checkConfig, checkRelay, checkSystemdUnit, checkUpstreams, reason } from "./doctor-checks.ts";
import { checkUser } from "./doctor-files.ts";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { autostartEntryInUse } from "../desktop/systemd-user.ts";
import { startFakeOllama, type FakeOllama } from "../../tests/helpers/fake-ollama.ts";

let llama: FakeOllama;
beforeAll(async () => {
  llama = await startFakeOllama({ kind: "llamacpp", models: ["m"] });
});
afterAll(() => llama.stop());

const config = (toml: string) => {
  const r = parseConfig(toml, "t.toml");
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
};

test("doctor probes a llama.cpp server at /health, and names how to start it when it is not running", async () => {
  const [up, gone] = await checkUpstreams(
    config(`[[upstreams]]\nname = "llama"\nkind = "llamacpp"\nurl = "${llama.url}"\n[[upstreams]]\nname = "gone"\nkind = "llamacpp"\nurl = "http://127.0.0.1:9"\n`),
  );
  expect(up!.level).toBe("ok");
  // The probe is /health (then its model list, for the no-model warning); never Ollama's /api/version.
  expect(llama.requests.map((r) => r.path)[0]).toBe("/health");
  expect(llama.requests.map((r) => r.path)).not.toContain("/api/version");
  expect(gone!.level).toBe("warn");
  expect(gone!.fix).toContain("llama-server");
});

test("doctor asks a bridge-v1 server (the 1.x cloud) at its own health URL, GET /health, not the relay's /healthz", async () => {
  const seen: string[] = [];
  const cloud = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      seen.push(path);
      return path === "/health" ? Response.json({ status: "OK" }) : new Response("Cannot GET", { status: 404 });
    },
  });
  try {
    const c = config(`[api]\nlisten = "127.0.0.1:9"\n[tunnel]\nenabled = true\nprotocol = "bridge-v1"\nrelay_url = "ws://127.0.0.1:${cloud.port}/ws/bridge"\n`);
    const r = (await checkRelay(c))!;
    expect(seen).toEqual(["/health"]);
    expect(r.detail).toContain(`127.0.0.1:${cloud.port} is reachable (HTTP 200 from /health)`);
  } finally {
    cloud.stop(true);
  }
});

test("doctor's systemd line: a masked unit is named as masked with the unmask fix, not as \"not installed\"", () => {
  const unit = (p: Partial<Parameters<typeof checkSystemdUnit>[0]>) => checkSystemdUnit({ available: true, installed: false, enabled: false, active: false, detail: "", ...p });
  // What `systemctl --user mask` leaves: LoadState=masked, so not "loaded".
  expect(unit({ masked: true, detail: "load=masked file=masked active=inactive" })).toMatchObject({
    detail: "cloudtolocalllm-tunnel.service is masked: nothing starts the daemon, not systemd and not the autostart entry",
    fix: "systemctl --user unmask cloudtolocalllm-tunnel.service && systemctl --user enable --now cloudtolocalllm-tunnel.service",
  });
  expect(unit({}).fix).toBe("cloudtolocalllm-tunnel install");
  expect(unit({ installed: true, enabled: true, active: true }).level).toBe("ok");
});

test("doctor's systemd line without a user manager: the autostart entry install or a package put there already runs serve at login; one turned off does not", () => {
  const home = mkdtempSync(join(tmpdir(), "c2l-doctor-autostart-"));
  try {
    const env = { HOME: home, XDG_CONFIG_DIRS: join(home, "etc-xdg") };
    const noManager = { available: false, installed: false, enabled: false, active: false, detail: "Failed to connect to bus: No medium found" };
    // Nothing there: the user is told to set it up.
    expect(checkSystemdUnit(noManager, autostartEntryInUse(env)).fix).toBe("run `cloudtolocalllm-tunnel serve` from your session's autostart instead");
    // A package's entry (/etc/xdg/autostart): nothing to set up.
    mkdirSync(join(home, "etc-xdg/autostart"), { recursive: true });
    writeFileSync(join(home, "etc-xdg/autostart/cloudtolocalllm-tunnel-tray.desktop"), "[Desktop Entry]\nExec=sh -c \"…\"\n");
    expect(checkSystemdUnit(noManager, autostartEntryInUse(env))).toMatchObject({
      level: "warn",
      fix: `none needed at a desktop login: the autostart entry ${join(home, "etc-xdg/autostart/cloudtolocalllm-tunnel-tray.desktop")} runs \`cloudtolocalllm-tunnel serve\` (nothing restarts it after a crash)`,
    });
    // The user's copy wins (XDG autostart spec); one the desktop's "Startup Applications" turned off starts nothing.
    mkdirSync(join(home, ".config/autostart"), { recursive: true });
    writeFileSync(join(home, ".config/autostart/cloudtolocalllm-tunnel-tray.desktop"), "[Desktop Entry]\nExec=sh -c \"…\"\nX-GNOME-Autostart-enabled=false\n");
    expect(autostartEntryInUse(env)).toBeNull();
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("doctor does not call an upstream that answers its probe with a redirect reachable: the daemon follows none", async () => {
  const hits: string[] = [];
  const trap = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => (hits.push(new URL(req.url).pathname), Response.json({ version: "0.12.0" })) });
  const redirecting = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(null, { status: 302, headers: { location: `http://127.0.0.1:${trap.port}/api/version` } }) });
  try {
    const [r] = await checkUpstreams(config(`[[upstreams]]\nname = "lan"\nurl = "http://127.0.0.1:${redirecting.port}"\n`));
    expect(r!.level).toBe("fail");
    expect(r!.detail).toContain("answers /api/version with a redirect (HTTP 302), which the daemon does not follow");
    expect(r!.fix).toContain("the daemon follows no redirect");
    expect(hits).toEqual([]);
  } finally {
    trap.stop(true);
    redirecting.stop(true);
  }
});

test("an upstream that answers its kind's probe with a 404 is a problem, as the daemon counts it down, not \"reachable\"", async () => {
  const other = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(null, { status: 404 }) });
  try {
    const [r] = await checkUpstreams(config(`[[upstreams]]\nname = "workstation"\nkind = "llamacpp"\nurl = "http://127.0.0.1:${other.port}"\n`));
    // Before: "✓ http://127.0.0.1:PORT is reachable (HTTP 404)", while `status` showed it down: "/health answered 404".
    expect(r).toMatchObject({
      level: "fail",
      detail: `http://127.0.0.1:${other.port} answers /health with HTTP 404, so the daemon counts it down`,
      fix: `check the url and kind of upstream "workstation": a llamacpp server answers /health; another server, or a path in its url, answers HTTP 404 there`,
    });
  } finally {
    other.stop(true);
  }
});

test("Ollama moved to another port (OLLAMA_HOST): the fix is the upstream's url there, not a second `ollama serve`; OLLAMA_HOST at the broker is no such hint", async () => {
  const moved = await startFakeOllama({ models: ["m"] });
  try {
    const port = new URL(moved.url).port;
    const c = config(`[proxy]\nlisten = "127.0.0.1:11435"\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\n`);
    // Before: "is Ollama running? `systemctl --user start ollama` or `ollama serve`": it is, and a second one fails on its port.
    const [up] = await checkUpstreams(c, { OLLAMA_HOST: `127.0.0.1:${port}` }, "/nonexistent/tunnel.toml");
    expect(up).toMatchObject({
      level: "fail",
      detail: "http://127.0.0.1:9: connection refused (nothing listens on that port)",
      fix: `Ollama answers at http://127.0.0.1:${port} (OLLAMA_HOST): add to /nonexistent/tunnel.toml: [[upstreams]] name = "local" url = "http://127.0.0.1:${port}" (one per line)`,
    });
    // OLLAMA_HOST=0.0.0.0:PORT (Ollama bound to every interface) is reached through loopback.
    expect((await checkUpstreams(c, { OLLAMA_HOST: `0.0.0.0:${port}` }))[0]!.fix).toContain(`Ollama answers at http://127.0.0.1:${port} (OLLAMA_HOST)`);
    // The `ollama` CLI pointed at the broker itself: never suggested as the upstream (a loop).
    const atBroker = config(`[proxy]\nlisten = "127.0.0.1:${port}"\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\n`);
    // And then a plain `ollama serve` (the usual fix) would read it too and take the broker's port: the fix says how to start it.
    expect((await checkUpstreams(atBroker, { OLLAMA_HOST: `127.0.0.1:${port}` }))[0]!.fix).toBe(
      `OLLAMA_HOST is the broker's own address (127.0.0.1:${port}), so a plain \`ollama serve\` would try to take the broker's port: start Ollama at its url with \`OLLAMA_HOST=127.0.0.1:9 ollama serve\``,
    );
    // OLLAMA_HOST=localhost:PORT (how apps are pointed at the broker; localhost may resolve to ::1 first) is the broker too,
    // never "Ollama answers at http://localhost:PORT": that url as the upstream would be the broker calling itself.
    for (const h of [`localhost:${port}`, `http://LOCALHOST:${port}/`]) expect((await checkUpstreams(atBroker, { OLLAMA_HOST: h }))[0]!.fix).toStartWith(`OLLAMA_HOST is the broker's own address (localhost:${port})`);
    expect((await checkUpstreams(c, {}))[0]!.fix).toStartWith("is Ollama running?");
  } finally {
    await moved.stop();
  }
});

test("a config path doctor cannot read is a failed Config line naming why, not a crash with the system's sentence", () => {
  const dir = mkdtempSync(tmpdir() + "/c2l-doctor-cfg-");
  try {
    // Before: doctor stopped with "EISDIR: illegal operation on a directory, read" and printed no checklist.
    expect(checkConfig(dir).result).toMatchObject({ name: "Config", level: "fail", detail: `cannot read ${dir}: it is a directory, not a file (EISDIR)` });
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("doctor's systemd line for a failed unit: how it ended, and the reset-failed a plain start needs after systemd gave up", () => {
  const unit = (failed: { result: string; status: number }) => checkSystemdUnit({ available: true, installed: true, enabled: true, active: false, failed, detail: "" });
  const fix = "`journalctl --user -u cloudtolocalllm-tunnel.service -p err -n 5` shows why; fix that, then `systemctl --user reset-failed cloudtolocalllm-tunnel.service && systemctl --user start cloudtolocalllm-tunnel.service`";
  // Before: "enabled but not running", fix "systemctl --user start …", which systemd refuses after start-limit-hit.
  expect(unit({ result: "exit-code", status: 2 })).toMatchObject({
    detail: "cloudtolocalllm-tunnel.service failed: the daemon exited with code 2 (an invalid config file or argument; systemd does not restart it)",
    fix,
  });
  expect(unit({ result: "start-limit-hit", status: 1 }).detail).toContain("it failed too often in a row and systemd stopped restarting it");
  expect(unit({ result: "watchdog", status: 0 }).detail).toContain("it stopped answering systemd's watchdog");
});

test("an Ollama without a model is a warning with the pull that gives it one, not a green line over every request's \"model not found\"", async () => {
  const empty = await startFakeOllama({ models: [], loaded: [] });
  try {
    const c = config(`[[upstreams]]\nname = "local"\nurl = "${empty.url}"\n`);
    expect((await checkUpstreams(c, {}))[0]).toMatchObject({
      level: "warn",
      detail: `${empty.url} is reachable, but has no model: apps' requests get "model not found"`,
      fix: "`ollama pull llama3.2` (or any model of https://ollama.com/library)",
    });
    empty.options.models = ["llama3.2:latest"];
    expect((await checkUpstreams(c, {}))[0]!.level).toBe("ok");
  } finally {
    await empty.stop();
  }
});

test("doctor run with sudo says it checks root's setup, not the desktop user's; root on its own or a user is not told", () => {
  // Before: no word of it; "Config /root/.config/… does not exist yet" read as the user's file missing.
  expect(checkUser({ SUDO_USER: "alice" }, 0)).toMatchObject({ name: "User", level: "warn", detail: expect.stringContaining("not alice's"), fix: "run `cloudtolocalllm-tunnel doctor` without sudo" });
  expect(checkUser({}, 0)).toBeNull();
  expect(checkUser({ SUDO_USER: "alice" }, 1000)).toBeNull();
});

test("doctor's reason for a failed connection says the code once, and names an unreachable network (a loopback with only ::1) in words", () => {
  expect(reason(Object.assign(new Error("ENETUNREACH: Was there a typo in the url or port?"), { code: "ENETUNREACH" }))).toBe("network unreachable (this machine has no route to that address)");
  expect(reason(Object.assign(new Error("EPROTO: something odd."), { code: "EPROTO" }))).toBe("EPROTO: something odd");
  expect(reason(Object.assign(new Error("something odd"), { code: "EPROTO" }))).toBe("EPROTO: something odd");
});
