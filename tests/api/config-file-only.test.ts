// Fields that decide authentication ([api] token_file, [tunnel] ca_file) cannot be changed through the API: PUT, import and
// restore that change them are refused 403 naming the field; the same config with them unchanged is applied (issue 12 item 6).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { removeHome, startDaemon } from "../helpers/daemon.ts";
import { join } from "node:path";
import { createApp, type ApiApp } from "../../src/api/app.ts";
import { AUTH, TOKEN, testEnv, type TestEnv } from "./stubs.ts";

let env: TestEnv;
let app: ApiApp;
let tokenPath: string;
let bait: string;

const toml = (tokenFile: string, extra = "") => `[api]
listen = "127.0.0.1:0"
token_file = "${tokenFile}"
body_limit = 4096
${extra}
[[upstreams]]
name = "local"
url = "http://127.0.0.1:11434"
`;

beforeEach(() => {
  env = testEnv("[api]\nlisten = \"127.0.0.1:0\"\n");
  tokenPath = join(env.dir, "api-token");
  writeFileSync(tokenPath, TOKEN + "\n", { mode: 0o600 });
  // A file any local user can read, with content an attacker knows: as the token file it would become the API token.
  bait = join(env.dir, "known.txt");
  writeFileSync(bait, "a-value-the-attacker-knows\n", { mode: 0o644 });
  writeFileSync(env.file, toml(tokenPath), { mode: 0o600 });
  app = createApp(env.daemon.ctx, { token: () => TOKEN });
});
afterEach(() => env.cleanup());

async function call(method: string, path: string, body?: string, contentType = "application/toml") {
  const res = await app.handle(new Request("http://127.0.0.1:8765" + path, { method, headers: { ...AUTH, "content-type": contentType }, body }));
  return { status: res.status, json: (await res.json()) as any };
}

async function reloadFromDisk() {
  expect((await call("POST", "/api/v1/config/reload")).status).toBe(200);
}

describe("fields that decide authentication are changed only by editing the file", () => {
  test("PUT that points token_file at another file is refused 403 naming the field; nothing is written", async () => {
    await reloadFromDisk();
    const before = readFileSync(env.file, "utf8");
    const r = await call("PUT", "/api/v1/config", toml(bait));
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe("forbidden");
    expect(r.json.error.message).toContain("api.token_file cannot be changed through the API");
    expect(r.json.error.message).toContain(`edit ${env.file}`);
    expect(r.json.error.details).toEqual([{ path: "api.token_file", message: expect.stringContaining(JSON.stringify(tokenPath)) }]);
    expect(readFileSync(env.file, "utf8")).toBe(before);
    expect(env.daemon.ctx.config.current().api.token_file).toBe(tokenPath);
    expect((await call("GET", "/api/v1/config/backups")).json).toEqual([]);
  });

  test("as JSON, through import, and by leaving the field out (back to the default file) alike", async () => {
    await reloadFromDisk();
    const json = { api: { listen: "127.0.0.1:0", token_file: bait }, upstreams: [{ name: "local", url: "http://127.0.0.1:11434" }] };
    expect((await call("PUT", "/api/v1/config", JSON.stringify(json), "application/json")).status).toBe(403);
    expect((await call("POST", "/api/v1/config/import", toml(bait), "text/plain")).status).toBe(403);
    const dropped = await call("PUT", "/api/v1/config", "[[upstreams]]\nname = \"local\"\nurl = \"http://127.0.0.1:11434\"\n");
    expect(dropped.status).toBe(403);
    expect(dropped.json.error.details[0].path).toBe("api.token_file");
  });

  test("tunnel.ca_file is held the same way", async () => {
    await reloadFromDisk();
    const r = await call("PUT", "/api/v1/config", toml(tokenPath, `[tunnel]\nca_file = "${bait}"\n`));
    expect(r.status).toBe(403);
    expect(r.json.error.details.map((d: any) => d.path)).toEqual(["tunnel.ca_file"]);
  });

  test("a PUT that keeps them unchanged is applied", async () => {
    await reloadFromDisk();
    const r = await call("PUT", "/api/v1/config", toml(tokenPath).replace("body_limit = 4096", "body_limit = 8192"));
    expect(r.status).toBe(200);
    expect(env.daemon.ctx.config.current().api.body_limit).toBe(8192);
    expect(env.daemon.ctx.config.current().api.token_file).toBe(tokenPath);
  });

  test("an edit of the file itself may change them; restoring an older backup through the API may not bring the old value back", async () => {
    await reloadFromDisk();
    // A backup of the file with token_file = tokenPath.
    const put = await call("PUT", "/api/v1/config", toml(tokenPath).replace("body_limit = 4096", "body_limit = 8192"));
    const id = put.json.backup.id as string;
    // The user moves the token file by editing the config file.
    const moved = join(env.dir, "moved-token");
    writeFileSync(moved, TOKEN + "\n", { mode: 0o600 });
    writeFileSync(env.file, toml(moved));
    await reloadFromDisk();
    expect(env.daemon.ctx.config.current().api.token_file).toBe(moved);
    const r = await call("POST", `/api/v1/config/backups/${id}/restore`);
    expect(r.status).toBe(403);
    expect(r.json.error.details[0].path).toBe("api.token_file");
    expect(env.daemon.ctx.config.current().api.token_file).toBe(moved);
    expect(readFileSync(env.file, "utf8")).toBe(toml(moved));
  });
});

test("in a real daemon the refused PUT leaves the token and the bait file alone", async () => {
  const d = await startDaemon({ config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nenabled = false\n[secrets]\nbackend = "file"\n` });
  try {
    const api = d.urls.api!;
    const token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
    const known = join(d.home, "known.txt");
    writeFileSync(known, "a-value-the-attacker-knows\n", { mode: 0o644 });
    const body = `[api]\nlisten = "127.0.0.1:0"\ntoken_file = "${known}"\n[proxy]\nenabled = false\n[secrets]\nbackend = "file"\n`;
    const r = await fetch(api + "/api/v1/config", { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-type": "application/toml" }, body });
    expect(r.status).toBe(403);
    expect(statSync(known).mode & 0o777).toBe(0o644);
    const asBait = await fetch(api + "/api/v1/config", { headers: { authorization: "Bearer a-value-the-attacker-knows" } });
    expect(asBait.status).toBe(401);
    expect((await fetch(api + "/api/v1/config", { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  } finally {
    await d.stop();
    removeHome(d.home);
  }
}, 60_000);
