// Unit tests for the 1.x/2.x migration from fixture files: every field carried or listed, tokens to the secret store only, old files untouched.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MemorySecretStore } from "../secrets/memory-store.ts";
import { parseConfig } from "./load.ts";
import { applyMigration, bridgeUrl, migrateLegacy, readLegacyFile } from "./migrate.ts";
import { ConfigStore } from "./store.ts";

const FIXTURES = resolve(import.meta.dir, "../../tests/fixtures/legacy");
const TOKEN = "eyJhbGciOiJSUzI1NiJ9.legacy-plaintext-token.c2lnbmF0dXJl";
const TUNNEL_FIELDS = Object.keys(JSON.parse(readFileSync(join(FIXTURES, "tunnel_config.json"), "utf8")));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "c2l-migrate-"));
  for (const f of ["tunnel_config.json", "connection_config.json"]) copyFileSync(join(FIXTURES, f), join(dir, f));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const accounted = (m: ReturnType<typeof migrateLegacy>) => [...m.carried.map((c) => c.from), ...m.notCarried.map((n) => n.field)].join("\n");

test("1.x tunnel_config.json: every field is carried or listed with a reason", () => {
  const m = migrateLegacy([readLegacyFile(join(dir, "tunnel_config.json"))]);
  const c = m.config;
  expect(c.upstreams).toHaveLength(1);
  expect(c.upstreams[0]).toMatchObject({ name: "local", url: "http://localhost:11500", enabled: true, connect_timeout: "20s", first_byte_timeout: "120s" });
  expect(c.health).toMatchObject({ interval: "45s", failures_before_down: 5 });
  expect(c.tunnel).toMatchObject({ enabled: true, relay_url: "wss://app.cloudtolocalllm.online/ws/bridge", protocol: "bridge-v1" });
  expect(c.tunnel.backoff.initial).toBe("2s");
  expect(c.auth.audience).toBe("https://api.cloudtolocalllm.online");
  expect(c.api.listen).toBe("127.0.0.1:8766"); // 1.x listened on every interface; now loopback only
  expect(c.api.allowed_origins).toEqual(["https://app.cloudtolocalllm.online"]);
  expect(c.alerts.notifications).toBe(false);
  expect(c.logging.level).toBe("debug");
  const all = accounted(m);
  for (const f of TUNNEL_FIELDS) expect(all).toContain(f);
  expect(m.notCarried.map((n) => n.field)).toEqual(
    expect.arrayContaining([
      "tunnel_config.json enableApiServer",
      "tunnel_config.json connectionPoolSize",
      "tunnel_config.json enableMetrics",
      "tunnel_config.json minimizeToTray",
      "tunnel_config.json startMinimized",
      "tunnel_config.json autoStartOnBoot",
      'tunnel_config.json allowedOrigins "http://localhost:*"',
    ]),
  );
  for (const n of m.notCarried) expect(n.reason.length).toBeGreaterThan(10);
  // The tray is the daemon's own icon: pointing a 2.x user at the `tray` command (for a daemon elsewhere) would lead nowhere.
  expect(m.notCarried.find((n) => n.field === "tunnel_config.json minimizeToTray")?.reason).toBe("there is no main window any more: the daemon shows the tray icon itself");
  expect(m.secrets).toEqual([]);
});

test("2.x connection_config.json: connections carried, the plaintext token goes to the secret store and not the TOML", async () => {
  const m = migrateLegacy([readLegacyFile(join(dir, "connection_config.json"))]);
  expect(m.config.upstreams[0]).toMatchObject({ name: "local", kind: "ollama", url: "http://127.0.0.1:11434", connect_timeout: "30s", enabled: true, auth_secret: "" });
  expect(m.config.tunnel).toMatchObject({ enabled: true, relay_url: "wss://api.cloudtolocalllm.online/ws/bridge", protocol: "bridge-v1", token_secret: "tunnel-token" });
  const all = accounted(m);
  // Every non-empty field of both connections is accounted for (the token below).
  for (const f of ["connection_type", "host", "port", "timeout", "enabled"]) expect(all).toMatch(new RegExp(`local_ollama\\.[^\\n]*\\b${f}\\b`));
  for (const f of ["connection_type", "host", "port", "api_base_url", "timeout", "enabled"]) expect(all).toMatch(new RegExp(`cloud_proxy\\.[^\\n]*\\b${f}\\b`));
  expect(m.secrets.map((s) => s.from)).toEqual(["connection_config.json cloud_proxy.auth_token"]);

  const secrets = new MemorySecretStore();
  const store = new ConfigStore(join(dir, "new", "tunnel.toml"), { backupsDir: join(dir, "backups") });
  const applied = await applyMigration(m, store, secrets);
  expect(applied.result.ok).toBe(true);
  expect(await secrets.get("tunnel-token")).toBe(TOKEN);
  expect(applied.migration.carried).toContainEqual({ from: "connection_config.json cloud_proxy.auth_token", to: 'secret "tunnel-token" (memory)' });
  const written = readFileSync(store.file, "utf8");
  expect(written).not.toContain(TOKEN);
  expect(written).not.toContain("legacy-plaintext-token");
  expect(written).toContain("# Migrated on");
  expect(written).toContain("#   - connection_config.json cloud_proxy.timeout:");
  expect(statSync(store.file).mode & 0o777).toBe(0o600);
  const r = parseConfig(written);
  expect(r.ok).toBe(true);
  if (r.ok) expect(r.config).toEqual(m.config);
});

test("without a secret store the token is left behind and listed, never written", async () => {
  const m = migrateLegacy([readLegacyFile(join(dir, "connection_config.json"))]);
  const store = new ConfigStore(join(dir, "new", "tunnel.toml"), { backupsDir: join(dir, "backups") });
  const applied = await applyMigration(m, store, null);
  expect(applied.result.ok).toBe(true);
  expect(readFileSync(store.file, "utf8")).not.toContain("legacy-plaintext-token");
  expect(applied.migration.notCarried.find((n) => n.field === "connection_config.json cloud_proxy.auth_token")?.reason).toContain("secret set tunnel-token");
});

test("both files together: the newer 2.x values win and the overridden 1.x ones are listed; old files are not modified", async () => {
  const before = ["tunnel_config.json", "connection_config.json"].map((f) => [readFileSync(join(dir, f), "utf8"), statSync(join(dir, f)).mtimeMs]);
  const m = migrateLegacy(["tunnel_config.json", "connection_config.json"].map((f) => readLegacyFile(join(dir, f))));
  expect(m.config.upstreams[0]!.url).toBe("http://127.0.0.1:11434");
  expect(m.notCarried).toContainEqual({ field: "tunnel_config.json ollamaHost, ollamaPort", reason: "superseded by connection_config.json local_ollama.host, port" });
  expect(m.config.tunnel.relay_url).toBe("wss://app.cloudtolocalllm.online/ws/bridge");
  await applyMigration(m, new ConfigStore(join(dir, "new", "tunnel.toml"), { backupsDir: join(dir, "backups") }), new MemorySecretStore());
  const after = ["tunnel_config.json", "connection_config.json"].map((f) => [readFileSync(join(dir, f), "utf8"), statSync(join(dir, f)).mtimeMs]);
  expect(after).toEqual(before);
});

test("values the new schema rejects fall back to defaults and are listed", () => {
  const m = migrateLegacy([{ file: "x/tunnel_config.json", kind: "tunnel_config", data: { ollamaPort: 70000, logLevel: "TRACE", enableCloudProxy: true, cloudProxyUrl: "" } }]);
  expect(m.config.upstreams[0]!.url).toBe("http://127.0.0.1:11434");
  expect(m.notCarried.map((n) => n.field)).toEqual(expect.arrayContaining(["tunnel_config.json ollamaHost, ollamaPort", "tunnel_config.json logLevel"]));
  expect(m.config.tunnel.enabled).toBe(false); // no cloud URL: the tunnel cannot be on
});

test("bridgeUrl maps the 1.x cloud URL to its bridge endpoint", () => {
  expect(bridgeUrl("https://app.cloudtolocalllm.online")).toBe("wss://app.cloudtolocalllm.online/ws/bridge");
  expect(bridgeUrl("http://localhost:3000/")).toBe("ws://localhost:3000/ws/bridge");
  expect(bridgeUrl("wss://x.example/ws/bridge")).toBe("wss://x.example/ws/bridge");
  expect(bridgeUrl("not a url")).toBeUndefined();
});
