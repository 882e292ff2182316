// `doctor` for a user whose config and state directories a `sudo` run left to root: each is named with the chown that
// gives it back, and after that chown (as written) doctor is clean and the daemon starts.
import { afterAll, expect, setDefaultTimeout } from "bun:test";
import { chownSync, chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, homeEnv, removeHome, startDaemon, tempHome } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { ROOT } from "../helpers/other-user.ts";
import { freePort } from "../../bench/lib/proc.ts";

setDefaultTimeout(60_000);
const NOBODY = 65534;
const { test } = requireTools(["setpriv", ROOT]);

const home = tempHome("c2l-doctor-files-");
const userHome = tempHome("c2l-doctor-user-");
const tokenHome = tempHome("c2l-doctor-token-");
afterAll(() => [home, userHome, tokenHome].forEach(removeHome));

interface Check {
  name: string;
  level: "ok" | "warn" | "fail";
  detail: string;
  fix?: string;
}

function asNobody(args: string[], env: Record<string, string>, timeoutMs?: number) {
  const p = Bun.spawnSync(["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", ...args], { env, cwd: "/", stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}


test("config and state directories left to root: doctor names each with the chown that fixes it; after that chown, doctor is clean and serve starts", () => {
  const env = homeEnv(home);
  const dir = join(home, ".config/cloudtolocalllm");
  const file = join(dir, "tunnel.toml");
  const state = join(home, ".local/state");
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `[api]\nlisten = "127.0.0.1:${freePort()}"\n[proxy]\nlisten = "127.0.0.1:${freePort()}"\n[secrets]\nbackend = "file"\n`, { mode: 0o600 });
  // The user's home is theirs; what `sudo cloudtolocalllm-tunnel serve` made inside it is root's.
  for (const p of [home, join(home, ".config"), join(home, ".local"), join(home, "run")]) chownSync(p, NOBODY, NOBODY);
  chmodSync(dir, 0o700);
  const doctor = () => {
    const r = asNobody([BUN, join(REPO, "src/main.ts"), "doctor", "--json"], env);
    return { ...r, checks: JSON.parse(r.out).checks as Check[] };
  };
  const before = doctor();
  expect(before.code).toBe(1);
  const find = (checks: Check[], name: string) => checks.find((c) => c.name === name);
  // Before: "✓ Config … does not exist yet; the defaults apply", and nothing about the directories.
  expect(find(before.checks, "Config")).toMatchObject({
    level: "fail",
    detail: `cannot read ${file}: permission denied (the user it runs as cannot read it) (EACCES)`,
    fix: `it belongs to another user (a run with sudo?): \`sudo chown -R "$(id -un)": ${dir}\``,
  });
  expect(find(before.checks, "Config directory")).toMatchObject({ level: "fail", detail: expect.stringContaining(`${dir} is not writable by this user (uid ${NOBODY})`) });
  expect(find(before.checks, "State directory")).toMatchObject({
    level: "fail",
    detail: expect.stringContaining(`${state} (where ${state}/cloudtolocalllm is to be made) is not writable`),
    fix: `it belongs to another user (a run with sudo?): \`sudo chown -R "$(id -un)": ${state}\``,
  });
  // The fixes as written: `id -un` in the user's shell, chown under sudo (root here).
  const name = asNobody(["id", "-un"], env).out.trim();
  for (const fix of [find(before.checks, "Config")!.fix!, find(before.checks, "State directory")!.fix!]) {
    const cmd = /`sudo (chown -R "\$\(id -un\)": \S+)`/.exec(fix)![1]!.replace('"$(id -un)"', name);
    expect(Bun.spawnSync(["sh", "-c", cmd]).exitCode).toBe(0);
  }
  const after = doctor();
  expect(find(after.checks, "Config")).toMatchObject({ level: "ok" });
  expect(after.checks.filter((c) => c.name.endsWith("directory"))).toEqual([]);
  // And the daemon starts as that user (it stops at the timeout: SIGTERM, not a start failure).
  const serve = asNobody([BUN, join(REPO, "src/main.ts"), "serve"], env, 4000);
  expect(serve.err).toContain("daemon: started");
});

test("a daemon started with sudo (root's) holds the address: doctor says whose it is and to start it as yourself, not to reload a token", async () => {
  const api = freePort();
  const toml = `[api]\nlisten = "127.0.0.1:${api}"\n[proxy]\nlisten = "127.0.0.1:${freePort()}"\n[secrets]\nbackend = "file"\n`;
  const rootDaemon = await startDaemon({ config: toml });
  const env = homeEnv(userHome);
  mkdirSync(join(userHome, ".config/cloudtolocalllm"), { recursive: true });
  writeFileSync(join(userHome, ".config/cloudtolocalllm/tunnel.toml"), toml);
  Bun.spawnSync(["chown", "-R", `${NOBODY}:${NOBODY}`, userHome]);
  const doctor = () => JSON.parse(asNobody([BUN, join(REPO, "src/main.ts"), "doctor", "--json"], env).out).checks as Check[];
  try {
    // Before: "✓ Daemon the control API answers", while every command of this user was refused.
    expect(doctor().find((c) => c.name === "Daemon")).toMatchObject({
      level: "fail",
      detail: `the daemon at http://127.0.0.1:${api} runs as root (started with sudo?), with that user's config and API token: this user's commands cannot use it`,
      fix: expect.stringContaining("then start it as yourself: `systemctl --user start cloudtolocalllm-tunnel.service` or `cloudtolocalllm-tunnel serve`"),
    });
    // And the commands: before, "no API token in …; the daemon creates it on start".
    const reload = asNobody([BUN, join(REPO, "src/main.ts"), "reload"], env);
    expect(reload.code).toBe(1);
    expect(reload.err).toContain(`the daemon at http://127.0.0.1:${api} runs as root (started with sudo?), with that user's config and API token; stop it and start it as yourself`);
  } finally {
    removeHome(rootDaemon.home);
    await rootDaemon.stop();
  }
  // The fix as written: this user's own daemon.
  const own = Bun.spawn(["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", BUN, join(REPO, "src/main.ts"), "serve"], { env, cwd: "/", stdout: "ignore", stderr: "pipe" });
  try {
    let log = "";
    for await (const chunk of own.stderr) if ((log += new TextDecoder().decode(chunk)).includes("daemon: started")) break;
    expect(doctor().find((c) => c.name === "Daemon")).toMatchObject({ level: "ok" });
  } finally {
    own.kill();
    await own.exited;
  }
});

test("an API token file left to root: serve names it and [api] token_file, doctor too with the chown; after that chown the daemon starts", () => {
  const env = homeEnv(tokenHome);
  const dir = join(tokenHome, ".config/cloudtolocalllm");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "tunnel.toml"), `[api]\nlisten = "127.0.0.1:${freePort()}"\n[proxy]\nlisten = "127.0.0.1:${freePort()}"\n[secrets]\nbackend = "file"\n`);
  Bun.spawnSync(["chown", "-R", `${NOBODY}:${NOBODY}`, tokenHome]);
  const token = join(dir, "api-token");
  writeFileSync(token, "tok-" + "r".repeat(40) + "\n", { mode: 0o600 }); // root's, as `sudo … serve` leaves it
  const serve = () => asNobody([BUN, join(REPO, "src/main.ts"), "serve"], env, 4000);
  const failed = serve();
  // Before: "EACCES: permission denied, open '…/api-token'; the daemon did not start."
  expect(failed.err).toContain(`cannot open ${token} ([api] token_file): permission denied (EACCES); if it is another user's (a run with sudo?): \`sudo chown "$(id -un)": ${token}\`; the daemon did not start.`);
  const checks = JSON.parse(asNobody([BUN, join(REPO, "src/main.ts"), "doctor", "--json"], env).out).checks as Check[];
  const line = checks.find((c) => c.name === "API token")!;
  expect(line).toMatchObject({ level: "fail", detail: expect.stringContaining(`${token}: permission denied`), fix: `it belongs to another user (a run with sudo?): \`sudo chown "$(id -un)": ${token}\`` });
  // The fix as written (sudo being root here, `id -un` the user's).
  const name = asNobody(["id", "-un"], env).out.trim();
  expect(Bun.spawnSync(["sh", "-c", /`sudo (.*)`$/.exec(line.fix!)![1]!.replace('"$(id -un)"', name)]).exitCode).toBe(0);
  expect(serve().err).toContain("daemon: started");
});
