// Integration: what an upgrading 1.x/2.x user really has on disk (a corrupt file, a BOM, a token typed since, a config deleted to start over), through the real CLI and daemon.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, homeEnv, REPO, tempHome } from "../helpers/daemon.ts";
import { NETNS_NEEDS, runInNetns } from "../helpers/netns.ts";
import { requireTools } from "../helpers/requires.ts";

setDefaultTimeout(60_000);

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.legacy-plaintext-token.c2lnbmF0dXJl";
const NEWER = "token-typed-after-the-upgrade-0123456789";
const homes: string[] = [];
afterAll(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));

/** A fresh HOME whose ~/.cloudtolocalllm holds `files` (name → text; null: the fixture of that name). */
function legacyHome(files: Record<string, string | null>): { home: string; legacy: string } {
  const home = tempHome("c2l-upgrade-");
  homes.push(home);
  const legacy = join(home, ".cloudtolocalllm");
  mkdirSync(legacy);
  for (const [name, text] of Object.entries(files)) {
    if (text === null) copyFileSync(join(REPO, "tests/fixtures/legacy", name), join(legacy, name));
    else writeFileSync(join(legacy, name), text);
    chmodSync(join(legacy, name), 0o644); // as the old apps left them
  }
  return { home, legacy };
}
function cli(home: string, args: string[], stdin?: string) {
  const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), ...args], { env: homeEnv(home), cwd: home, stdin: stdin === undefined ? "ignore" : Buffer.from(stdin) });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}
const secretOf = (home: string, name: string) => (JSON.parse(readFileSync(join(home, ".local/state/cloudtolocalllm/secrets.json"), "utf8")) as { secrets: Record<string, string> }).secrets[name];

const serve = (home: string) => runInNetns([BUN, join(REPO, "src/main.ts"), "serve"], { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home });
const configOf = (home: string) => join(home, ".config/cloudtolocalllm/tunnel.toml");

// The migrated config listens on the default ports: only inside a private network namespace.
requireTools(NETNS_NEEDS).test("first run: a corrupt 1.x file does not cost the 2.x file and its token; it is listed in the new file", async () => {
  // The 1.x app died mid-write; the 2.x tray's file is fine.
  const { home, legacy } = legacyHome({ "tunnel_config.json": '{\n  "enableLocalOllama": true,\n  "ollamaHost": "localhost",\n  "ollamaPo', "connection_config.json": null });
  const before = readFileSync(join(legacy, "connection_config.json"), "utf8");
  const first = await serve(home);
  expect(first.stderr).toMatch(/info daemon: migrated the 1\.x\/2\.x configuration; .*not_carried="tunnel_config\.json;/);
  expect(first.health?.status).toBe(200);
  const toml = readFileSync(configOf(home), "utf8");
  expect(toml).toContain('relay_url = "wss://api.cloudtolocalllm.online/ws/bridge"');
  // The comment wraps where the words fall; where the file goes wrong (line and column) is part of it.
  expect(toml.replace(/\n# {5}/g, " ")).toMatch(/^# {3}- tunnel_config\.json: cannot read it as JSON \(.*, at line 4, column \d+\); nothing in it was carried$/m);
  expect(toml).not.toContain(TOKEN);
  expect(secretOf(home, "tunnel-token")).toBe(TOKEN);
  // Everything written is the user's alone: the config, the secret file (no keyring here), the migration marker.
  for (const f of [configOf(home), ".local/state/cloudtolocalllm/secrets.json", ".local/state/cloudtolocalllm/legacy-migrated.json"])
    expect({ f, mode: statSync(f.startsWith("/") ? f : join(home, f)).mode & 0o777 }).toEqual({ f, mode: 0o600 });
  expect(readFileSync(join(legacy, "connection_config.json"), "utf8")).toBe(before);
  // The old file was only read, so it still holds the token: the user is told where, never what.
  expect(first.stderr).toContain(`warn daemon: ${join(legacy, "connection_config.json")} still holds the token in plaintext (mode 0644, readable by other users): delete it once the 1.x/2.x app is gone`);
});

requireTools(NETNS_NEEDS).test("a config deleted to start over gets the defaults, not the 1.x settings again, and a token stored since is kept", async () => {
  const { home } = legacyHome({ "tunnel_config.json": null, "connection_config.json": null });
  const first = await serve(home);
  expect(first.stderr).toContain("daemon: migrated the 1.x/2.x configuration");
  expect(secretOf(home, "tunnel-token")).toBe(TOKEN);
  // Later: a new token, then the config deleted to start over (what docs/configuration.md tells a user to do).
  expect(cli(home, ["secret", "set", "tunnel-token"], NEWER).code).toBe(0);
  unlinkSync(configOf(home));
  const again = await serve(home);
  expect(again.stderr).toContain("the 1.x/2.x configuration was migrated before; writing the defaults");
  expect(again.stderr).not.toContain("daemon: migrated the 1.x/2.x configuration");
  expect(secretOf(home, "tunnel-token")).toBe(NEWER);
  expect(readFileSync(configOf(home), "utf8")).toContain("written with the defaults on first run");
  expect(readFileSync(configOf(home), "utf8")).not.toContain("cloudtolocalllm.online/ws/bridge");
  expect(first.stderr + again.stderr).not.toContain(NEWER);
});

test("config migrate reads a file a Windows editor saved (BOM, CRLF); the old file is left as it was", () => {
  const tunnel = '\uFEFF{\r\n  "ollamaHost": "localhost",\r\n  "ollamaPort": 11500,\r\n  "cloudProxyUrl": "https://app.cloudtolocalllm.online"\r\n}\r\n';
  const { home, legacy } = legacyHome({ "tunnel_config.json": tunnel });
  const r = cli(home, ["config", "migrate"]);
  expect(r.err).not.toContain("cannot read it as JSON");
  expect(r.code).toBe(0);
  expect(r.out).toContain("tunnel_config.json ollamaHost, ollamaPort → upstreams[0].url");
  expect(readFileSync(configOf(home), "utf8")).toContain('url = "http://localhost:11500"');
  expect(readFileSync(join(legacy, "tunnel_config.json"), "utf8")).toBe(tunnel);
  expect(statSync(join(legacy, "tunnel_config.json")).mode & 0o777).toBe(0o644);
});

test("config migrate run again keeps a token stored since (and its dry run says it would)", () => {
  const { home, legacy } = legacyHome({ "tunnel_config.json": null, "connection_config.json": null });
  const first = cli(home, ["config", "migrate"]);
  expect(first.code).toBe(0);
  expect(first.out).toContain(`note: ${join(legacy, "connection_config.json")} still holds the token in plaintext (mode 0644, readable by other users)`);
  expect(secretOf(home, "tunnel-token")).toBe(TOKEN);
  expect(cli(home, ["secret", "set", "tunnel-token"], NEWER).code).toBe(0);
  const second = cli(home, ["config", "migrate"]);
  expect(second.code).toBe(0);
  expect(secretOf(home, "tunnel-token")).toBe(NEWER);
  expect(second.out).toMatch(/previous file saved as backup \d{8}T\d{9}Z/);
  expect(second.out).toContain('connection_config.json cloud_proxy.auth_token: the secret "tunnel-token" already holds another value, which was kept');
  expect(second.out).not.toContain("still holds the token"); // the old token was not the one carried this time
  const dry = cli(home, ["config", "migrate", "--dry-run"]);
  expect(dry.err).toContain('would store connection_config.json cloud_proxy.auth_token as secret "tunnel-token" (unless that secret already holds another value, which is kept)');
  expect(second.out + second.err + dry.out + dry.err).not.toContain(NEWER);
});

test("a token pasted into the legacy file without its quotes never reaches the terminal, the log or the TOML", async () => {
  const pasted = "sk_live_PastedWithoutQuotes0123456789";
  const { home } = legacyHome({ "connection_config.json": `{"cloud_proxy": {"auth_token": ${pasted}, "enabled": true}}` });
  const r = cli(home, ["config", "migrate"]);
  expect(r.code).toBe(1);
  expect(r.err).toContain("cannot read it as JSON");
  expect(r.out + r.err).not.toContain(pasted);
});
