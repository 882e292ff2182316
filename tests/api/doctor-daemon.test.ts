// `doctor` and the CLI on the daemon's own addresses, against a real daemon: a deleted API token file, another program on
// [api] listen or [proxy] listen, a config with errors given by --config. Each fix is followed as written.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { homeEnv, removeHome, startDaemon, tempHome } from "../helpers/daemon.ts";
import { runCli } from "./cli.ts";
import { freePort } from "../../bench/lib/proc.ts";

setDefaultTimeout(60_000);

interface Check {
  name: string;
  level: "ok" | "warn" | "fail";
  detail: string;
  fix?: string;
}

const homes: string[] = [];
afterAll(() => homes.forEach(removeHome));


/** A config on fixed free ports (the CLI cannot find a daemon on a random one), no upstream needed. */
function ports() {
  const api = freePort();
  const proxy = freePort();
  return { api, proxy, toml: `[api]\nlisten = "127.0.0.1:${api}"\n[proxy]\nlisten = "127.0.0.1:${proxy}"\n[secrets]\nbackend = "file"\n` };
}

async function doctor(env: Record<string, string>, ...args: string[]) {
  const r = await runCli(env, "doctor", "--json", ...args);
  return { ...r, checks: JSON.parse(r.out).checks as Check[] };
}
const find = (checks: Check[], name: string) => checks.find((c) => c.name === name);

test("the API token file deleted under a running daemon: doctor fails naming the file and the reload; after that SIGHUP, doctor and `reload` work", async () => {
  const p = ports();
  const d = await startDaemon({ config: p.toml });
  homes.push(d.home);
  try {
    const tokenFile = join(d.home, ".config/cloudtolocalllm/api-token");
    expect(find((await doctor(d.env)).checks, "Daemon")).toMatchObject({ level: "ok" });
    rmSync(tokenFile);
    // Before: "✓ Daemon the control API answers", while every command that needs the token was refused.
    const broken = await doctor(d.env);
    expect(broken.code).toBe(1);
    // The --json shape README documents: ok false with exit code 1; each check name, level, detail and (here) fix.
    expect(JSON.parse(broken.out).ok).toBe(false);
    for (const c of broken.checks) expect(Object.keys(c).filter((k) => !["name", "level", "detail", "fix"].includes(k))).toEqual([]);
    expect(find(broken.checks, "Daemon")).toMatchObject({
      level: "fail",
      detail: expect.stringContaining(`there is no API token in ${tokenFile}`),
      fix: expect.stringContaining("systemctl --user reload cloudtolocalllm-tunnel.service` (or `kill -HUP` the daemon's pid)"),
    });
    // Before: "the daemon creates it on start", of a daemon that was running.
    const reload = await runCli(d.env, "reload");
    expect(reload.code).toBe(1);
    expect(reload.err).toContain(`no API token in ${tokenFile}; the daemon writes it on start and on a reload`);
    // The fix, as written (no systemd user manager here: the kill -HUP).
    d.proc.kill("SIGHUP");
    await d.waitFor(/the API token changed/);
    expect(find((await doctor(d.env)).checks, "Daemon")).toMatchObject({ level: "ok", detail: expect.stringContaining(tokenFile) });
    expect((await runCli(d.env, "reload")).code).toBe(0);
  } finally {
    await d.stop();
  }
});

test("another program on [api] listen: doctor names it and [api] listen; `status` says the answer is not the daemon's", async () => {
  const home = tempHome("c2l-doctor-api-");
  homes.push(home);
  const p = ports();
  const env = homeEnv(home);
  const file = join(home, ".config/cloudtolocalllm/tunnel.toml");
  Bun.spawnSync(["mkdir", "-p", join(home, ".config/cloudtolocalllm")]);
  writeFileSync(file, p.toml);
  const other = Bun.serve({ hostname: "127.0.0.1", port: p.api, fetch: () => new Response("Not Found", { status: 404 }) });
  try {
    const r = await doctor(env);
    // Before: "! Daemon not reachable (HTTP 404)", fix "systemctl --user start …": a start that fails on the taken port.
    expect(find(r.checks, "Daemon")).toMatchObject({
      level: "fail",
      detail: `another program answers at http://127.0.0.1:${p.api} (HTTP 404 to /healthz), not the daemon: the daemon cannot listen there while it does`,
      fix: `stop that program (\`ss -ltnp 'sport = :${p.api}'\` shows which program), or set a free address in [api] listen in ${file}`,
    });
    const status = await runCli(env, "status");
    expect(status.code).toBe(1);
    // Before: "GET /api/v1/status failed with HTTP 404." and nothing more.
    expect(status.err).toContain(`without the daemon's error code: is another program listening at http://127.0.0.1:${p.api}?`);
  } finally {
    other.stop(true);
  }
});

test("another program on [proxy] listen while the daemon is down: doctor says the daemon cannot start there, as `serve` then finds", async () => {
  const home = tempHome("c2l-doctor-proxy-");
  homes.push(home);
  const p = ports();
  const env = homeEnv(home);
  const file = join(home, ".config/cloudtolocalllm/tunnel.toml");
  Bun.spawnSync(["mkdir", "-p", join(home, ".config/cloudtolocalllm")]);
  writeFileSync(file, p.toml);
  const other = Bun.serve({ hostname: "127.0.0.1", port: p.proxy, fetch: () => new Response("hello") });
  try {
    const r = await doctor(env);
    // Before: only "! Daemon not reachable", fix "start it", which fails at once.
    expect(find(r.checks, "Broker port")).toMatchObject({
      level: "fail",
      detail: `127.0.0.1:${p.proxy} ([proxy] listen) is held by another program: the daemon cannot start while it is`,
      fix: expect.stringContaining(`or set a free address in [proxy] listen in ${file}`),
    });
    const serve = await runCli(env, "serve");
    expect(serve.code).not.toBe(0);
    expect(serve.err).toContain(`port ${p.proxy} is already in use`);
  } finally {
    other.stop(true);
  }
  // Free again: no such line.
  expect(find((await doctor(env)).checks, "Broker port")).toBeUndefined();
});

test("a config with an error given by --config: the fix validates that file, and the daemon is still found at its [api] listen", async () => {
  const p = ports();
  const home = tempHome();
  homes.push(home);
  // The daemon's own file, given by --config: the errors are a slip made while it runs (it keeps its last good config).
  const bad = join(home, "bad.toml");
  writeFileSync(bad, p.toml);
  const d = await startDaemon({ home, args: ["--config", bad] });
  try {
    writeFileSync(bad, p.toml + `[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\ntimout = "5s"\n`);
    // Without its listen record (an older daemon, another runtime dir) only the file's [api] listen says where it is.
    rmSync(join(home, "run/cloudtolocalllm"), { recursive: true, force: true });
    const r = await doctor(d.env, "--config", bad);
    expect(r.code).toBe(1);
    // Before: `config validate` (the default file, which is valid) and "Daemon not reachable at http://127.0.0.1:8765".
    expect(find(r.checks, "Config")).toMatchObject({ level: "fail", fix: `fix the file at the place shown, then run \`cloudtolocalllm-tunnel config validate ${bad}\`` });
    expect(find(r.checks, "Daemon")).toMatchObject({ level: "ok", detail: expect.stringContaining(`http://127.0.0.1:${p.api}`) });
    // Its upstreams are not known: not the defaults' Ollama judged instead (before: "✗ Upstream \"local\" http://127.0.0.1:11434: connection refused").
    expect(r.checks.filter((c) => c.name.startsWith("Upstream"))).toEqual([{ name: "Upstreams", level: "warn", detail: "not checked: the config file has errors (the Config line), so its upstreams are not known", fix: "fix the config file first" }]);
    // Not TOML at all (a slip while editing the daemon's own file): `status` and doctor still find the running daemon at
    // its [api] listen, which says it kept its last good config. Before: "cannot reach the daemon at …:8765".
    writeFileSync(bad, p.toml + `[secrets]\nbackend = "file"\n`);
    const status = await runCli(d.env, "status", "--config", bad);
    expect(status.code).toBe(0);
    expect(find((await doctor(d.env, "--config", bad)).checks, "Daemon")).toMatchObject({ level: "ok", detail: expect.stringContaining(`http://127.0.0.1:${p.api}`) });
    writeFileSync(bad, p.toml + `[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\ntimout = "5s"\n`);
    const validate = await runCli(d.env, "config", "validate", bad);
    expect(validate.code).toBe(2);
    expect(validate.err + validate.out).toContain('unknown key "timout"');
  } finally {
    await d.stop();
  }
});
