// A refused move of [api] listen: the CLI follows where the daemon really listens (its listen record), and a program of
// the same user on the address the file now names gets no API token.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apiToken, removeHome, startDaemon, TEST_DAEMON_TOML } from "../helpers/daemon.ts";
import { freePort } from "../../bench/lib/proc.ts";
import { runCli } from "./cli.ts";

setDefaultTimeout(60_000);

const homes: string[] = [];
afterAll(() => homes.forEach(removeHome));

test("a reload refused because [api] listen moved onto a taken port: `reload` and `status` still reach the daemon, and the program on the new port gets no token", async () => {
  const port = freePort();
  const d = await startDaemon({ config: TEST_DAEMON_TOML.replace('listen = "127.0.0.1:0"', `listen = "127.0.0.1:${port}"`) });
  homes.push(d.home);
  // Another program of this user (this test process) on the address the file will name: it keeps every Authorization it gets.
  const heard: string[] = [];
  const other = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (r) => (heard.push(`${new URL(r.url).pathname} ${r.headers.get("authorization")}`), Response.json({})) });
  try {
    const token = await apiToken(d);
    writeFileSync(d.configFile, readFileSync(d.configFile, "utf8").replace(`127.0.0.1:${port}`, `127.0.0.1:${other.port}`));
    const reload = await runCli(d.env, "reload");
    expect({ code: reload.code, err: reload.err }).toMatchObject({ code: 2, err: expect.stringContaining("api.listen") });
    const status = await runCli(d.env, "status", "--json");
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out).daemon.pid).toBe(d.proc.pid);
    expect(heard.join("\n")).not.toContain(token);
    expect(heard).toEqual([]);

    const runDir = join(d.home, "run/cloudtolocalllm");
    const [record] = readdirSync(runDir);
    expect(statSync(join(runDir, record!)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(runDir, record!), "utf8"))).toMatchObject({ pid: d.proc.pid, url: `http://127.0.0.1:${port}` });
    // A clean exit takes the record with it: the next CLI call reads [api] listen again.
    expect(await d.stop("SIGTERM")).toBe(0);
    expect(existsSync(join(runDir, record!))).toBe(false);
  } finally {
    other.stop(true);
    await d.stop();
  }
});

test("the record of a daemon killed with SIGKILL is not trusted: the CLI goes by [api] listen and says no daemon answers there", async () => {
  const port = freePort();
  const d = await startDaemon({ config: TEST_DAEMON_TOML.replace('listen = "127.0.0.1:0"', `listen = "127.0.0.1:${port}"`) });
  homes.push(d.home);
  const runDir = join(d.home, "run/cloudtolocalllm");
  await d.stop("SIGKILL");
  expect(readdirSync(runDir)).toHaveLength(1);
  // A program of this user now holds the old address the stale record names; [api] listen names a port nobody holds.
  const heard: string[] = [];
  const other = Bun.serve({ hostname: "127.0.0.1", port, fetch: (r) => (heard.push(`${r.headers.get("authorization")}`), Response.json({})) });
  try {
    const free = freePort();
    writeFileSync(d.configFile, readFileSync(d.configFile, "utf8").replace(`127.0.0.1:${port}`, `127.0.0.1:${free}`));
    const status = await runCli(d.env, "status");
    expect(status.code).toBe(1);
    expect(status.err).toContain(`cannot reach the daemon at http://127.0.0.1:${free}`);
    expect(heard).toEqual([]);
  } finally {
    other.stop(true);
  }
});
