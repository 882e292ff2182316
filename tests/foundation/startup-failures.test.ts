// `serve` when it cannot run as configured: a taken port exits 1 with one sentence and leaves nothing listening; a config file that sets nothing, or is too big, exits 2.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { BUN, homeEnv, REPO, tempHome } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { ROOT } from "../helpers/other-user.ts";
import { freePort } from "../../bench/lib/proc.ts";
import { until } from "../helpers/until.ts";

// Real processes on a busy machine: more than bun's 5 s default.
setDefaultTimeout(30_000);

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

/** Runs `serve` on `toml` until it exits by itself (killed after 15 s: a daemon that keeps running is the failure). */
async function serve(toml: string, env: Record<string, string> = {}): Promise<{ code: number | null; err: string; file: string; ranOn: boolean }> {
  const home = tempHome("c2l-start-");
  homes.push(home);
  const file = join(home, ".config/cloudtolocalllm/tunnel.toml");
  mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
  writeFileSync(file, toml, { mode: 0o600 });
  const p = Bun.spawn([BUN, join(REPO, "src/main.ts"), "serve"], { env: { ...homeEnv(home), ...env }, cwd: home, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  let ranOn = false;
  const timer = setTimeout(() => {
    ranOn = true;
    p.kill("SIGKILL");
  }, 15_000);
  const err = await new Response(p.stderr).text();
  await p.exited;
  clearTimeout(timer);
  return { code: p.exitCode, err, file, ranOn };
}

/** A port nothing listens on right now. */

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port }, () => (s.destroy(), resolve(true)));
    s.on("error", () => resolve(false));
  });
}

/** Lines that are not the daemon's log lines ("2026-…Z info broker: ..."): what the CLI itself said. */
const said = (err: string) => err.split("\n").filter((l) => l.trim() && !/^\d{4}-\d\d-\d\dT[\d:.]+Z \w+ [\w.-]+: /.test(l));

const toml = (api: number, proxy: number) => `[api]\nlisten = "127.0.0.1:${api}"\n[proxy]\nlisten = "127.0.0.1:${proxy}"\n[secrets]\nbackend = "file"\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\n`;

test("the broker's port is taken at start: exit 1 with one sentence naming [proxy] listen, nothing left listening", async () => {
  const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("someone else") });
  const api = freePort();
  try {
    const r = await serve(toml(api, holder.port!));
    // Before: "the Ollama-compatible endpoint stays off", and the daemon ran on without its broker.
    expect(r.ranOn).toBe(false);
    expect(r.code).toBe(1);
    expect(r.err).not.toContain("stays off");
    expect(said(r.err)).toEqual([
      `cloudtolocalllm-tunnel serve: the broker cannot listen on 127.0.0.1:${holder.port} ([proxy] listen): port ${holder.port} is already in use (by another program, or another copy of the daemon); the daemon did not start (stop what holds the port, or change the address in ${r.file}).`,
    ]);
    expect(r.err).not.toContain("control API listening");
    expect(await listening(api)).toBe(false);
    expect(await (await fetch(`http://127.0.0.1:${holder.port}/`)).text()).toBe("someone else");
  } finally {
    holder.stop(true);
  }
});

test("the API's port is taken at start: exit 1 with one sentence naming [api] listen; the broker that had started is closed again", async () => {
  const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("someone else") });
  const proxy = freePort();
  try {
    const r = await serve(toml(holder.port!, proxy));
    expect(r.code).toBe(1);
    expect(said(r.err)).toEqual([
      `cloudtolocalllm-tunnel serve: the control API cannot listen on 127.0.0.1:${holder.port} ([api] listen): port ${holder.port} is already in use (by another program, or another copy of the daemon); the daemon did not start (stop what holds the port, or change the address in ${r.file}).`,
    ]);
    expect(r.err).toContain("Ollama-compatible endpoint listening");
    expect(await listening(proxy)).toBe(false);
  } finally {
    holder.stop(true);
  }
});

test("a second daemon on the same ports does not start beside the first (the API socket is not shared)", async () => {
  const api = freePort();
  const home = tempHome("c2l-start-");
  homes.push(home);
  mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
  writeFileSync(join(home, ".config/cloudtolocalllm/tunnel.toml"), toml(api, 0));
  const running = Bun.spawn([BUN, join(REPO, "src/main.ts"), "serve"], { env: homeEnv(home), cwd: home, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  try {
    const dec = new TextDecoder();
    let log = "";
    for await (const chunk of running.stderr) {
      log += dec.decode(chunk, { stream: true });
      if (log.includes("daemon: started")) break;
    }
    const second = await serve(toml(api, 0));
    expect(second.code).toBe(1);
    expect(said(second.err).join("\n")).toContain(`the control API cannot listen on 127.0.0.1:${api} ([api] listen): port ${api} is already in use`);
  } finally {
    running.kill("SIGTERM");
    await running.exited;
  }
});

test("a daemon that cannot start (its API port held, as by a running copy) never connects its tunnel: the relay would cut the running one's", async () => {
  // The relay: any TCP connection counts (a relay hands a tunnel to the newest agent, replacing the running daemon's).
  let connections = 0;
  const relay = createServer((s) => (connections++, s.destroy()));
  await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
  const relayPort = (relay.address() as { port: number }).port;
  const withTunnel = (api: number) => `${toml(api, 0)}[tunnel]\nenabled = true\nrelay_url = "ws://127.0.0.1:${relayPort}/agent"\n`;
  const env = { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: "agent-token-of-the-test-0123456789" };
  const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("the running daemon") });
  try {
    const r = await serve(withTunnel(holder.port!), env);
    expect(r.code).toBe(1);
    expect(said(r.err).join("\n")).toContain(`the control API cannot listen on 127.0.0.1:${holder.port}`);
    // Before: "tunnel: connecting to the relay", and the relay saw the agent (`npm start` run twice: the first one's tunnel was replaced).
    expect(r.err).not.toContain("connecting to the relay");
    expect(connections).toBe(0);
    // The same file with its API port free does reach this relay: the count above could have moved.
    const home = tempHome("c2l-start-");
    homes.push(home);
    mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
    writeFileSync(join(home, ".config/cloudtolocalllm/tunnel.toml"), withTunnel(freePort()), { mode: 0o600 });
    const running = Bun.spawn([BUN, join(REPO, "src/main.ts"), "serve"], { env: { ...homeEnv(home), ...env }, cwd: home, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    try {
      await until(() => connections > 0, 15_000, "the started daemon's tunnel reaching the relay");
    } finally {
      running.kill("SIGTERM");
      await running.exited;
    }
  } finally {
    holder.stop(true);
    relay.close();
  }
});

test("a config file that sets nothing, or is over 1 MiB, stops the start with exit 2 and says why", async () => {
  for (const text of ["", "\n   \n", "# just a comment\n[api]\n"]) {
    const r = await serve(text);
    expect(r.code).toBe(2);
    expect(said(r.err)).toEqual([expect.stringContaining(`cloudtolocalllm-tunnel serve: ${r.file}: the file sets nothing (it is empty, or only comments and blank lines)`)]);
    expect(r.err).toContain("delete the file and restart the daemon");
    expect(r.err).not.toContain("listening");
  }
  const big = await serve(toml(0, 0) + "#".repeat(1024 * 1024) + "\n");
  expect(big.code).toBe(2);
  // Read no further than the limit, so "over" it rather than an exact size (docs/configuration.md).
  expect(said(big.err)).toEqual([expect.stringMatching(/: the file is over 1 MiB; a config file may be at most 1 MiB/)]);
});

test("a config file that cannot be read stops the start with exit 2 (restarting cannot fix it), naming the file and why", async () => {
  const home = tempHome("c2l-start-");
  homes.push(home);
  const dir = join(home, "tunnel.toml");
  mkdirSync(dir);
  const p = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "serve", "--config", dir], { env: homeEnv(home), cwd: home, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  expect(p.exitCode).toBe(2);
  expect(said(p.stderr.toString())).toEqual([`cloudtolocalllm-tunnel serve: cannot read ${dir}: it is a directory, not a file (EISDIR) [usage]`]);
});

test("a first config file that cannot be created stops the start with exit 2, naming the file and why (not a temporary file's errno sentence)", async () => {
  const home = tempHome("c2l-start-");
  homes.push(home);
  // Its directory would be under a regular file (a mistyped --config, a file where ~/.config should be).
  writeFileSync(join(home, "not-a-dir"), "");
  const file = join(home, "not-a-dir/cloudtolocalllm/tunnel.toml");
  const p = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "serve", "--config", file], { env: homeEnv(home), cwd: home, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  // Before: exit 1 with "EEXIST: file already exists, mkdir '…/not-a-dir'" (or, in a read-only place, EACCES on ".tunnel.toml.123.tmp").
  expect(p.exitCode).toBe(2);
  expect(said(p.stderr.toString())).toEqual([
    expect.stringMatching(new RegExp(`^cloudtolocalllm-tunnel serve: cannot create the configuration ${file.replace(/[.]/g, "\\.")}: a part of its path is a file, not a directory \\((EEXIST|ENOTDIR)\\); create it yourself, or pass --config FILE \\[usage\\]$`)),
  ]);
});

// A container run with `--user 12345` and no HOME: a uid the password database does not list has no home directory.
requireTools(["setpriv", ROOT]).test("HOME unset for a uid without a passwd entry: one sentence saying to set HOME, not the system's uv_os_homedir", () => {
  const r = Bun.spawnSync(["setpriv", "--reuid=12345", "--regid=12345", "--clear-groups", BUN, join(REPO, "src/main.ts"), "status"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, cwd: "/", stderr: "pipe" });
  expect({ code: r.exitCode, err: r.stderr.toString() }).toEqual({
    code: 1,
    err: "cloudtolocalllm-tunnel status: HOME is not set and this user (uid 12345) has no home directory in the password database: set HOME, or XDG_CONFIG_HOME, XDG_STATE_HOME and XDG_DATA_HOME\n",
  });
});
