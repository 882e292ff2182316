// A relay stopped while it is still starting (a cluster node waiting for Redis) says so in its log and exits 0, like one stopped later: never killed without a word.
import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../bench/lib/proc.ts";
import { RUNTIME_ENV } from "../../src/core/runtime-tuning.ts";
import { BUN, REPO } from "../helpers/daemon.ts";
import { spawnLogged } from "../helpers/process.ts";
import { cleanup } from "../tunnel/helpers.ts";
import { writeClusterSecret } from "./cluster-helpers.ts";

/** A plain log line (stderr is a pipe here). */
const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) [\w.-]+: \S/;

for (const signal of ["SIGTERM", "SIGINT"] as const)
  test(`${signal} while a cluster node waits for Redis at start: it says it is stopping and why, then exits 0`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "c2l-relay-endings-"));
    // A "Redis" that takes the connection and never answers: the node's start waits out redis_timeout on it.
    let connected!: () => void;
    const reached = new Promise<void>((r) => (connected = r));
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => connected(), data() {} } });
    const config = join(dir, "relay.toml");
    writeFileSync(
      config,
      `listen = "127.0.0.1:${freePort()}"\n[cluster]\nredis_url = "redis://127.0.0.1:${silent.port}/0"\nnode_id = "n1"\ninternal_listen = "127.0.0.1:${freePort()}"\nshared_secret_file = "${writeClusterSecret(dir)}"\nredis_timeout = "1s"\ndrain_delay = "100ms"\n`,
      { mode: 0o600 },
    );
    const relay = spawnLogged([BUN, join(REPO, "src/main.ts"), "relay", "--config", config], { env: { ...RUNTIME_ENV, PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir }, cwd: dir, label: "relay", debugEnv: "DEBUG_RELAY" });
    try {
      await reached;
      relay.proc.kill(signal);
      const code = await Promise.race([relay.proc.exited, Bun.sleep(20_000).then(() => "still running")]);
      // Before: 143 (or 130), killed by the signal's default with nothing in the log after the start began.
      expect(code).toBe(0);
      await relay.waitFor(new RegExp(`info relay: stopping reason=${signal}$`, "m"), 5_000);
      expect(relay.stderr().split("\n").filter((l) => l !== "" && !LOG_LINE.test(l))).toEqual([]);
    } finally {
      await relay.stop("SIGKILL");
      silent.stop(true);
      cleanup(dir);
    }
  }, 30_000);
