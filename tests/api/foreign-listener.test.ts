// Another local user's program on the control API's port (the daemon is down): the CLI sends it no token and says who holds the port.
import { afterAll, expect, setDefaultTimeout } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, homeEnv, REPO, removeHome, tempHome } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { ROOT } from "../helpers/other-user.ts";
import { until } from "../helpers/until.ts";
import { runCli } from "./cli.ts";

setDefaultTimeout(30_000);

const NOBODY = 65534;
const { test } = requireTools(["setpriv", ROOT]);

const home = tempHome();
afterAll(() => removeHome(home));

test("a port taken by another user gets no API token from `status`, `reload` or `tunnel`; the sentence names the uid", async () => {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = probe.port!;
  probe.stop(true);
  const token = "tok-" + "x".repeat(40);
  mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
  writeFileSync(join(home, ".config/cloudtolocalllm/tunnel.toml"), `[api]\nlisten = "127.0.0.1:${port}"\n`);
  writeFileSync(join(home, ".config/cloudtolocalllm/api-token"), token + "\n", { mode: 0o600 });
  // What another user would run while the daemon is down: it answers like the API and keeps every Authorization it gets.
  const squatter = Bun.spawn(
    ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", BUN, "-e",
      `Bun.serve({ hostname: "127.0.0.1", port: ${port}, fetch(r) { console.log("got " + r.method + " " + new URL(r.url).pathname + " " + r.headers.get("authorization")); return Response.json({}); } }); console.log("ready");`],
    { cwd: "/", stdout: "pipe", stderr: "pipe" },
  );
  let heard = "";
  void (async () => {
    for await (const chunk of squatter.stdout) heard += new TextDecoder().decode(chunk);
  })();
  try {
    await until(() => heard.includes("ready"), 10_000, "the other user's listener");
    const env = homeEnv(home);
    for (const args of [["status"], ["reload"], ["tunnel", "restart"]]) {
      const r = await runCli(env, ...args);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.err).toContain(`127.0.0.1:${port} is held by a program of another user (uid ${NOBODY}), not by your daemon, so the API token was not sent to it`);
    }
    expect(heard).not.toContain(token);
  } finally {
    squatter.kill();
    await squatter.exited;
  }
});

test("two users on one machine: the second user's daemon names the uid holding its port and asks for ports of its own, not to stop it", async () => {
  const h = tempHome();
  // Another user's daemon, as far as the port goes: a listener of uid 65534 on the broker's port.
  const other = Bun.spawn(["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", BUN, "-e", `const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") }); console.log("port " + s.port);`], { cwd: "/", stdout: "pipe" });
  try {
    let heard = "";
    void (async () => {
      for await (const chunk of other.stdout) heard += new TextDecoder().decode(chunk);
    })();
    const port = Number((await until(() => /port (\d+)/.exec(heard), 10_000, "the other user's listener"))[1]);
    mkdirSync(join(h, ".config/cloudtolocalllm"), { recursive: true });
    const file = join(h, ".config/cloudtolocalllm/tunnel.toml");
    writeFileSync(file, `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:${port}"\n[secrets]\nbackend = "file"\n`);
    const r = await runCli(homeEnv(h), "serve");
    expect(r.code).toBe(1);
    expect(r.err).toContain(`another user (uid ${NOBODY}) holds port ${port}, their daemon perhaps: give this user's daemon ports of its own ([api] listen and [proxy] listen in ${file})`);
    expect(r.err).not.toContain("stop what holds the port");
  } finally {
    other.kill();
    await other.exited;
    removeHome(h);
  }
});

test("key create by one user while another user's daemon holds the ports: the key is made, and a note says that daemon does not read it", () => {
  const h = tempHome();
  // The other user's daemon, as far as the port goes: a listener of this (root) process.
  const other = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  try {
    mkdirSync(join(h, ".config/cloudtolocalllm"), { recursive: true });
    writeFileSync(join(h, ".config/cloudtolocalllm/tunnel.toml"), `[api]\nlisten = "127.0.0.1:${other.port}"\n`);
    Bun.spawnSync(["chown", "-R", `${NOBODY}:${NOBODY}`, h]);
    const r = Bun.spawnSync(["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", BUN, join(REPO, "src/main.ts"), "key", "create", "bob"], { env: { ...homeEnv(h), BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" }, cwd: "/", stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toStartWith("c2l_");
    expect(r.stderr.toString()).toContain(`Note: the daemon at http://127.0.0.1:${other.port} runs as root (started with sudo?), with that user's config and API token: it does not read this key, which works once your own daemon runs`);
  } finally {
    other.stop(true);
    removeHome(h);
  }
});
