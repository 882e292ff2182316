// Two daemons of one user, two config files: the CLI acts only on the daemon of its own config. Without a listen record
// of its config it goes to [api] listen, where another config's daemon (both default to 127.0.0.1:8765) may answer.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { homeEnv, removeHome, startDaemon, tempHome, TEST_DAEMON_TOML } from "../helpers/daemon.ts";
import { freePort } from "../../bench/lib/proc.ts";
import { runCli } from "./cli.ts";

setDefaultTimeout(90_000);

const homes: string[] = [];
afterAll(() => homes.forEach(removeHome));

const onPort = (port: number) => TEST_DAEMON_TOML.replace('listen = "127.0.0.1:0"', `listen = "127.0.0.1:${port}"`);

test("with no daemon of its config, `status`, `reload` and `reconnect --config A` refuse the daemon of config B that holds A's [api] listen port; --url still reaches it", async () => {
  const portB = freePort();
  const b = await startDaemon({ config: onPort(portB) });
  homes.push(b.home);
  const fileA = join(b.home, "a.toml");
  writeFileSync(fileA, onPort(freePort()), { mode: 0o600 });
  const a = await startDaemon({ home: b.home, args: ["--config", fileA] });
  try {
    // Both running: each config's CLI reaches its own daemon (by its listen record).
    expect(JSON.parse((await runCli(b.env, "status", "--json", "--config", fileA)).out).daemon.pid).toBe(a.proc.pid);
    expect(JSON.parse((await runCli(b.env, "status", "--json")).out).daemon.pid).toBe(b.proc.pid);
    expect(await a.stop("SIGTERM")).toBe(0);

    // A's daemon is gone and A's file now names B's port: what answers there is B's daemon (same user, same token file).
    writeFileSync(fileA, onPort(portB), { mode: 0o600 });
    const refusal = `the daemon at http://127.0.0.1:${portB} serves ${b.configFile}, not ${fileA}; start one for this config`;
    for (const args of [["status"], ["reload"], ["reconnect"]]) {
      const r = await runCli(b.env, ...args, "--config", fileA);
      expect({ args, code: r.code, out: r.out, err: r.err }).toEqual({ args, code: 1, out: "", err: expect.stringContaining(refusal) });
      expect(r.err).toContain(`--url http://127.0.0.1:${portB}`);
    }
    // doctor says the same on its Daemon line, instead of "ok" for B's daemon.
    const doctor = await runCli({ ...b.env, DBUS_SESSION_BUS_ADDRESS: "" }, "doctor", "--json", "--config", fileA);
    expect((JSON.parse(doctor.out).checks as { name: string }[]).find((c) => c.name === "Daemon")).toMatchObject({ level: "fail", detail: expect.stringContaining(refusal) });
    // B was not reloaded: its last reload is still none.
    const st = await runCli(b.env, "status", "--json");
    expect(JSON.parse(st.out).daemon).toMatchObject({ pid: b.proc.pid, lastReload: null });

    // --url is the user saying which daemon: it is used as before.
    const viaUrl = await runCli(b.env, "status", "--json", "--config", fileA, "--url", `http://127.0.0.1:${portB}`);
    expect(viaUrl.code).toBe(0);
    expect(JSON.parse(viaUrl.out).daemon.pid).toBe(b.proc.pid);

    // Without its listen record (an older daemon, another runtime dir) B is still found at [api] listen by its own config.
    const runDir = join(b.home, "run/cloudtolocalllm");
    for (const f of readdirSync(runDir)) rmSync(join(runDir, f));
    const reload = await runCli(b.env, "reload");
    expect({ code: reload.code, out: reload.out.trim() }).toEqual({ code: 0, out: "configuration reloaded" });
  } finally {
    await a.stop();
    await b.stop();
  }
});

test("a program of the same user at [api] listen that does not say which config it serves gets no call with the API token", async () => {
  const home = tempHome();
  homes.push(home);
  const dir = join(home, ".config/cloudtolocalllm");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "api-token"), "c2l-test-token-which-must-stay-here\n", { mode: 0o600 });
  const heard: string[] = [];
  const other = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (r) => (heard.push(`${r.method} ${new URL(r.url).pathname} ${r.headers.get("authorization")}`), Response.json({})) });
  const port = other.port!;
  try {
    writeFileSync(join(dir, "tunnel.toml"), onPort(port), { mode: 0o600 });
    const r = await runCli(homeEnv(home), "reload");
    expect({ code: r.code, out: r.out }).toEqual({ code: 1, out: "" });
    expect(r.err).toContain(`the program at http://127.0.0.1:${port} does not say which config file it serves`);
    expect(heard).toEqual(["GET /api/v1/status null"]);
  } finally {
    other.stop(true);
  }
});
