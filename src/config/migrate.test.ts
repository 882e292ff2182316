// Unit tests for the 1.x/2.x migration from fixture files: every field carried or listed, tokens to the secret store only, old files untouched.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MemorySecretStore } from "../secrets/memory-store.ts";
import { defaultConfig, parseConfig } from "./load.ts";
import { applyMigration, bridgeUrl, markMigrated, migratedAt, migrateLegacy, planMigration, plaintextLeftBehind, readLegacyFile } from "./migrate.ts";
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
  // maxRetries 5 and retryDelay 2 are 1.x's defaults: the new ones stand.
  expect(c.health).toMatchObject({ interval: "45s", failures_before_down: 3 });
  expect(c.tunnel).toMatchObject({ enabled: true, relay_url: "wss://app.cloudtolocalllm.online/ws/bridge", protocol: "bridge-v1" });
  expect(c.tunnel.backoff.initial).toBe("1s");
  expect(c.auth.audience).toBe("https://api.cloudtolocalllm.online");
  expect(c.api.listen).toBe("127.0.0.1:8766"); // 1.x listened on every interface; now loopback only
  // The 1.x cloud's web app is not let at the new API (a website reading the daemon's status without a token).
  expect(c.api.allowed_origins).toEqual([]);
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
      'tunnel_config.json allowedOrigins "https://app.cloudtolocalllm.online"',
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
  // A field both files set to the same value is carried from both, not listed as unusable.
  expect(m.carried).toContainEqual({ from: "tunnel_config.json enableLocalOllama", to: "upstreams[0].enabled" });
  expect(m.notCarried.map((n) => n.reason).filter((r) => r.startsWith("its value"))).toEqual([]);
  await applyMigration(m, new ConfigStore(join(dir, "new", "tunnel.toml"), { backupsDir: join(dir, "backups") }), new MemorySecretStore());
  const after = ["tunnel_config.json", "connection_config.json"].map((f) => [readFileSync(join(dir, f), "utf8"), statSync(join(dir, f)).mtimeMs]);
  expect(after).toEqual(before);
});

test("values the new schema rejects fall back to defaults and are listed", () => {
  const m = migrateLegacy([{ file: "x/tunnel_config.json", kind: "tunnel_config", data: { ollamaHost: "not a host", ollamaPort: 70000, logLevel: "TRACE", enableCloudProxy: true, cloudProxyUrl: "" } }]);
  expect(m.config.upstreams[0]!.url).toBe("http://127.0.0.1:11434");
  expect(m.notCarried.map((n) => n.field)).toEqual(expect.arrayContaining(["tunnel_config.json ollamaHost", "tunnel_config.json ollamaPort", "tunnel_config.json logLevel"]));
  expect(m.config.tunnel.enabled).toBe(false); // no cloud URL: the tunnel cannot be on
});

test("bridgeUrl maps the 1.x cloud URL to its bridge endpoint", () => {
  expect(bridgeUrl("https://app.cloudtolocalllm.online")).toBe("wss://app.cloudtolocalllm.online/ws/bridge");
  expect(bridgeUrl("http://localhost:3000/")).toBe("ws://localhost:3000/ws/bridge");
  expect(bridgeUrl("wss://x.example/ws/bridge")).toBe("wss://x.example/ws/bridge");
  expect(bridgeUrl("not a url")).toBeUndefined();
});

// ---- What upgrading users really have on disk (audit of the 1.x/2.x promises). ----

const legacyFile = (name: string, text: string | Uint8Array) => (writeFileSync(join(dir, name), text), join(dir, name));
const tunnelFile = () => join(dir, "tunnel_config.json");
const connectionFile = () => join(dir, "connection_config.json");

test("a file a Windows editor saved (BOM, CRLF, non-ASCII) is read like any other", () => {
  const text = '\uFEFF{\r\n  "ollamaHost": "höst.example",\r\n  "ollamaPort": 11500,\r\n  "cloudProxyUrl": "https://app.cloudtolocalllm.online"\r\n}\r\n';
  const m = planMigration([legacyFile("tunnel_config.json", text)]);
  expect(m.config.upstreams[0]!.url).toBe("http://höst.example:11500");
  expect(m.config.tunnel.relay_url).toBe("wss://app.cloudtolocalllm.online/ws/bridge");
});

test("one corrupt file does not cost the other one (nor its token): it is listed, the other carried", () => {
  legacyFile("tunnel_config.json", '{"ollamaHost": "localhost", "ollamaPort": 11500,');
  const m = planMigration([tunnelFile(), connectionFile()]);
  expect(m.sources).toEqual([connectionFile()]);
  expect(m.secrets.map((s) => s.name)).toEqual(["tunnel-token"]);
  expect(m.config.tunnel.relay_url).toBe("wss://api.cloudtolocalllm.online/ws/bridge");
  expect(m.notCarried[0]).toEqual({ field: "tunnel_config.json", reason: expect.stringMatching(/^cannot read it as JSON \(.+\); nothing in it was carried$/) });
  // None readable: an error naming the file, as before.
  legacyFile("connection_config.json", "");
  expect(() => planMigration([tunnelFile(), connectionFile()])).toThrow(`${tunnelFile()}: cannot read it as JSON`);
});

test("a parse error never quotes the file: a token pasted without its quotes stays out of the message", () => {
  legacyFile("connection_config.json", '{"cloud_proxy": {"auth_token": sk_live_PASTEDSECRET123, "enabled": true}}');
  expect(() => readLegacyFile(connectionFile())).toThrow(/cannot read it as JSON \(JSON Parse error: .*\[redacted\]/);
  try {
    readLegacyFile(connectionFile());
  } catch (e) {
    expect((e as Error).message).not.toContain("PASTEDSECRET");
  }
});

test("a legacy file that is a link to /dev/zero (or a huge log) is read no further than 1 MiB", () => {
  rmSync(tunnelFile());
  symlinkSync("/dev/zero", tunnelFile());
  expect(() => readLegacyFile(tunnelFile())).toThrow(/the file is over 1048576 bytes/);
});

test("values the old apps would have refused are listed by their type, never carried as something else", () => {
  const m = migrateLegacy([
    { file: "x/tunnel_config.json", kind: "tunnel_config", data: { ollamaHost: "localhost", ollamaPort: 0, apiServerPort: 0, connectionTimeout: 0, enableMetrics: true } },
    { file: "x/connection_config.json", kind: "connection_config", data: { cloud_proxy: { auth_token: 4242424242, api_base_url: "https://app.cloudtolocalllm.online", enabled: "yes" } } },
  ]);
  // Port 0 is neither "no port" (port 80) nor a random port for the API.
  expect(m.config.upstreams[0]!.url).toBe("http://localhost:11434");
  expect(m.config.api.listen).toBe("127.0.0.1:8765");
  const listed = Object.fromEntries(m.notCarried.map((n) => [n.field, n.reason]));
  for (const f of ["tunnel_config.json ollamaPort", "tunnel_config.json apiServerPort", "tunnel_config.json connectionTimeout", "connection_config.json cloud_proxy.auth_token", "connection_config.json cloud_proxy.enabled"])
    expect(listed[f]).toMatch(/^its value \(a (number|string)\) is not one the new setting takes; the default is kept$/);
  expect(JSON.stringify(m.notCarried)).not.toContain("4242424242");
});

test("a cloud URL: a bare host is the https cloud it names; one that is not a URL is listed without being quoted (it may hold a token)", () => {
  const bare = migrateLegacy([{ file: "x/tunnel_config.json", kind: "tunnel_config", data: { cloudProxyUrl: "app.cloudtolocalllm.online", ollamaHost: "http://192.168.1.5" } }]);
  expect(bare.config.tunnel.relay_url).toBe("wss://app.cloudtolocalllm.online/ws/bridge");
  expect(bare.config.upstreams[0]!.url).toBe("http://192.168.1.5:11434"); // a URL typed into the host field
  const bad = migrateLegacy([{ file: "x/tunnel_config.json", kind: "tunnel_config", data: { cloudProxyUrl: "ftp://token=eyJSECRETPART@x y", enableCloudProxy: true } }]);
  expect(bad.config.tunnel.relay_url).toBe("");
  expect(bad.notCarried.map((n) => n.field)).toContain("tunnel_config.json cloudProxyUrl");
  expect(JSON.stringify(bad.notCarried)).not.toContain("SECRETPART");
});

test("a secret stored since (a new token) is kept: migrating again never overwrites it with the legacy token", async () => {
  const secrets = new MemorySecretStore();
  await secrets.set("tunnel-token", "the-newer-token");
  const store = new ConfigStore(join(dir, "new", "tunnel.toml"), { backupsDir: join(dir, "backups") });
  const applied = await applyMigration(planMigration([connectionFile()]), store, secrets);
  expect(applied.result.ok).toBe(true);
  expect(await secrets.get("tunnel-token")).toBe("the-newer-token");
  expect(applied.storedSecrets).toEqual([]);
  expect(applied.migration.notCarried.find((n) => n.field === "connection_config.json cloud_proxy.auth_token")?.reason).toContain('the secret "tunnel-token" already holds another value, which was kept');
  // The same value again is no conflict (a second run is idempotent).
  await secrets.set("tunnel-token", TOKEN);
  const again = await applyMigration(planMigration([connectionFile()]), store, secrets);
  expect(again.storedSecrets).toEqual(["tunnel-token"]);
  expect(again.text.replace(/^# Migrated on \S+/m, "")).toBe(applied.text.replace(/^# Migrated on \S+/m, "").replace(/^#   - connection_config.json cloud_proxy.auth_token:.*\n(#     .*\n)*/m, ""));
});

test("the marker says a config file was migrated into, and when", () => {
  const marker = join(dir, "state", "legacy-migrated.json");
  expect(migratedAt(join(dir, "a.toml"), marker)).toBeNull();
  markMigrated(join(dir, "a.toml"), new Date("2026-12-07T00:00:00Z"), marker);
  markMigrated(join(dir, "b.toml"), new Date("2026-12-08T00:00:00Z"), marker);
  expect(migratedAt(join(dir, "a.toml"), marker)).toBe("2026-12-07T00:00:00.000Z");
  expect(migratedAt(join(dir, "b.toml"), marker)).toBe("2026-12-08T00:00:00.000Z");
  expect(statSync(marker).mode & 0o777).toBe(0o600);
});

test("allowedOrigins: an origin the user added is carried; the 1.x cloud's web app (the default, or the cloudProxyUrl's) is not", () => {
  const m = migrateLegacy([
    { file: "x/tunnel_config.json", kind: "tunnel_config", data: { cloudProxyUrl: "https://cloud.example.org", allowedOrigins: ["https://app.cloudtolocalllm.online", "https://cloud.example.org", "http://localhost:3000", "https://dash.example.net"] } },
  ]);
  expect(m.config.api.allowed_origins).toEqual(["http://localhost:3000", "https://dash.example.net"]);
  const listed = m.notCarried.map((n) => n.field);
  expect(listed).toContain('tunnel_config.json allowedOrigins "https://app.cloudtolocalllm.online"');
  expect(listed).toContain('tunnel_config.json allowedOrigins "https://cloud.example.org"');
});

test("2.x's cloud token when it is the account's Auth0 access token (a JWT that expires) is not stored: it would outlive its expiry and shadow every refreshed sign-in token", async () => {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const jwt = `${b64({ alg: "RS256", typ: "JWT" })}.${b64({ sub: "auth0|u1", aud: "https://app.cloudtolocalllm.online", exp: 1750000000 })}.c2lnbmF0dXJl`;
  const m = migrateLegacy([{ file: "x/connection_config.json", kind: "connection_config", data: { cloud_proxy: { api_base_url: "https://app.cloudtolocalllm.online", auth_token: jwt, enabled: true } } }]);
  // Before: stored as secret "tunnel-token", which the tunnel prefers to the signed-in account's token, forever refused once expired.
  expect(m.secrets).toEqual([]);
  const reason = m.notCarried.find((n) => n.field === "connection_config.json cloud_proxy.auth_token")?.reason ?? "";
  expect(reason).toContain("expired on 2025-06-15");
  expect(reason).toContain("cloudtolocalllm-tunnel login");
  expect(m.config.tunnel).toMatchObject({ enabled: true, relay_url: "wss://app.cloudtolocalllm.online/ws/bridge", protocol: "bridge-v1" });
  const secrets = new MemorySecretStore();
  const applied = await applyMigration(m, new ConfigStore(join(dir, "new", "tunnel.toml"), { backupsDir: join(dir, "backups") }), secrets);
  expect(applied.result.ok).toBe(true);
  expect(await secrets.get("tunnel-token")).toBeNull();
  expect(applied.text).not.toContain(jwt.split(".")[1]!);
});

test("a broken legacy file is refused with its line and column, and an existing new config is left untouched", async () => {
  legacyFile("tunnel_config.json", '{\n  "ollamaHost": "localhost",\n  "ollamaPort": 11434\n  "logLevel": "INFO"\n}\n');
  const store = new ConfigStore(join(dir, "new", "tunnel.toml"), { backupsDir: join(dir, "backups") });
  expect(store.write('[logging]\nlevel = "debug"\n').ok).toBe(true);
  const before = readFileSync(store.file, "utf8");
  // Before: "cannot read it as JSON (JSON Parse error: Expected '}')", nothing saying where in the file.
  expect(() => planMigration([tunnelFile()])).toThrow(`${tunnelFile()}: cannot read it as JSON (JSON Parse error: Expected '}', at line 4, column 3)`);
  expect(readFileSync(store.file, "utf8")).toBe(before);
});

test("1.x's default requestTimeout (60 s on the whole request) does not become a 60 s first-byte timeout: the new 300s default for slow model loads stands, and the field is listed", () => {
  const m = migrateLegacy([{ file: "x/tunnel_config.json", kind: "tunnel_config", data: { ollamaHost: "localhost", ollamaPort: 11434, requestTimeout: 60 } }]);
  // Before: first_byte_timeout = "60s", so a large model's cold load failed, and a few in a row took the upstream down.
  expect(m.config.upstreams[0]!.first_byte_timeout).toBe("300s");
  expect(m.notCarried.find((n) => n.field === "tunnel_config.json requestTimeout")?.reason).toContain("the 1.x default");
  // A value the user chose is still carried (1.x's bound on the whole request is at least one on its first byte).
  const chosen = migrateLegacy([{ file: "x/tunnel_config.json", kind: "tunnel_config", data: { requestTimeout: "600" } }]);
  expect(chosen.config.upstreams[0]!.first_byte_timeout).toBe("600s");
});

test("1.x fields at their 1.x defaults (1.x wrote every field, chosen or not) do not override the new defaults; other values are carried", () => {
  // 1.x's TunnelConfig defaults: connectionTimeout 30, healthCheckInterval 30, maxRetries 5, retryDelay 2.
  const m = migrateLegacy([{ file: "x/tunnel_config.json", kind: "tunnel_config", data: { ollamaHost: "localhost", ollamaPort: 11434, connectionTimeout: 30, healthCheckInterval: "30", maxRetries: 5, retryDelay: 2 } }]);
  const defaults = defaultConfig();
  // Before: connect_timeout "30s" (a dead upstream took 30 s to notice), health.interval "30s", 5 failures, 2s backoff.
  expect(m.config.upstreams[0]!.connect_timeout).toBe(defaults.upstreams[0]!.connect_timeout);
  expect(m.config.health.interval).toBe(defaults.health.interval);
  expect(m.config.health.failures_before_down).toBe(defaults.health.failures_before_down);
  expect(m.config.tunnel.backoff.initial).toBe(defaults.tunnel.backoff.initial);
  const listed = Object.fromEntries(m.notCarried.map((n) => [n.field, n.reason]));
  for (const f of ["connectionTimeout", "healthCheckInterval", "maxRetries", "retryDelay"]) expect(listed[`tunnel_config.json ${f}`]).toContain("is the 1.x default");
  expect(listed["tunnel_config.json connectionTimeout"]).toBe(`30 is the 1.x default (1.x wrote every field, chosen or not); the new default (${defaults.upstreams[0]!.connect_timeout}) stands`);
  // Values the user chose are carried.
  const chosen = migrateLegacy([{ file: "x/tunnel_config.json", kind: "tunnel_config", data: { connectionTimeout: 31, healthCheckInterval: 29, maxRetries: 4, retryDelay: 3 } }]);
  expect(chosen.config.upstreams[0]!.connect_timeout).toBe("31s");
  expect(chosen.config.health).toMatchObject({ interval: "29s", failures_before_down: 4 });
  expect(chosen.config.tunnel.backoff.initial).toBe("3s");
});

test("2.x's account access token that is not carried: the old file is named with a note to delete it (path and mode, never the token)", async () => {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const jwt = `${b64({ alg: "RS256", typ: "JWT" })}.${b64({ sub: "auth0|u1", exp: 4102444800 })}.c2lnbmF0dXJl`;
  const file = join(dir, "connection_config.json");
  writeFileSync(file, JSON.stringify({ cloud_proxy: { api_base_url: "https://app.cloudtolocalllm.online", auth_token: jwt, enabled: true } }));
  chmodSync(file, 0o644);
  const m = planMigration([file]);
  const applied = await applyMigration(m, new ConfigStore(join(dir, "new", "tunnel.toml"), { backupsDir: join(dir, "backups") }), new MemorySecretStore());
  expect(applied.storedSecrets).toEqual([]);
  // Before: no note, as only a stored token counted; the unexpired access token stayed in a 0644 file, unmentioned.
  const notes = plaintextLeftBehind(m, applied.storedSecrets);
  expect(notes).toEqual([`${file} still holds the account's access token, which was not carried, in plaintext (mode 0644, readable by other users): delete it once the 1.x/2.x app is gone (it was only read)`]);
  expect(notes.join("")).not.toContain(jwt.split(".")[1]!);
});
