// Integration: `serve` with no config but the 1.x/2.x files migrates them, says so, keeps the token out of the TOML and leaves the old files alone.
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../helpers/daemon.ts";
import { NETNS_NEEDS, runInNetns } from "../helpers/netns.ts";
import { requireTools } from "../helpers/requires.ts";

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.legacy-plaintext-token.c2lnbmF0dXJl";
const home = mkdtempSync(join(tmpdir(), "c2l-legacy-home-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

// The migrated config listens where the old app did (8766) and on the default 11435: only inside a private network namespace.
requireTools(NETNS_NEEDS).test("serve migrates ~/.cloudtolocalllm on first run and says so", async () => {
  const legacy = join(home, ".cloudtolocalllm");
  mkdirSync(legacy);
  const files = ["tunnel_config.json", "connection_config.json"];
  for (const f of files) copyFileSync(join(REPO, "tests/fixtures/legacy", f), join(legacy, f));
  const before = files.map((f) => [readFileSync(join(legacy, f), "utf8"), statSync(join(legacy, f)).mtimeMs]);

  const run = await runInNetns([process.execPath, join(REPO, "src/main.ts"), "serve"], { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home });
  expect(run.stderr).toMatch(/info daemon: migrated the 1\.x\/2\.x configuration; the old files were left as they were .*not_carried=/);
  expect(run.stderr).toContain("api: control API listening url=http://127.0.0.1:8766");
  expect(run.health?.status).toBe(200);
  expect(run.exitCode).toBe(0);
  expect(run.stderr).not.toContain(TOKEN);

  const toml = readFileSync(join(home, ".config/cloudtolocalllm/tunnel.toml"), "utf8");
  expect(toml).toContain('relay_url = "wss://app.cloudtolocalllm.online/ws/bridge"');
  expect(toml).not.toContain(TOKEN);
  // No keyring in the namespace: the secret store falls back to its 0600 file, which now holds the token.
  const secrets = join(home, ".local/state/cloudtolocalllm/secrets.json");
  expect(existsSync(secrets)).toBe(true);
  expect(JSON.parse(readFileSync(secrets, "utf8")).secrets["tunnel-token"]).toBe(TOKEN);
  expect(files.map((f) => [readFileSync(join(legacy, f), "utf8"), statSync(join(legacy, f)).mtimeMs])).toEqual(before);
}, 60_000);
