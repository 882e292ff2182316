// The CLI of this build against a daemon still running an older one (an upgrade it was not restarted onto: Arch
// packages restart nothing): the daemon's answers as builds f556d5b and 8df390f gave them, recorded, from a stub. A route
// the old daemon lacks is named with the restart that fixes it; a reply without a newer field is shown, not a crash.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { homeEnv, tempHome } from "../helpers/daemon.ts";
import { runCli } from "./cli.ts";

const TOKEN = "old-daemon-token-0123456789abcdef";
/** Recorded: what each older daemon answered (status, JSON body), by "METHOD path". */
const ANSWERS: Record<string, [number, unknown]> = {
  // f556d5b: before dashboard access requests.
  "GET /api/v1/dashboard/requests": [404, { error: { code: "not_found", message: "no route GET /api/v1/dashboard/requests" } }],
  // 8df390f: models named no loaded upstreams yet.
  "GET /api/v1/models": [200, [{ name: "llama3.2:1b", upstreams: ["fake"] }]],
  "GET /api/v1/upstreams": [200, [{ name: "fake", kind: "ollama", url: "http://127.0.0.1:33029", enabled: true, priority: 100, state: "up", quality: "excellent", version: "0.6.0", models: ["llama3.2:1b"], lastCheck: "2026-12-07T10:18:26.815Z", lastError: null }]],
};

const old = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req) {
    if (req.headers.get("authorization") !== `Bearer ${TOKEN}`) return Response.json({ error: { code: "unauthorized", message: "missing or invalid API token" } }, { status: 401 });
    const [status, body] = ANSWERS[`${req.method} ${new URL(req.url).pathname}`] ?? [500, { error: { code: "internal", message: "not recorded" } }];
    return Response.json(body, { status });
  },
});
const home = tempHome("c2l-old-daemon-");
mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
writeFileSync(join(home, ".config/cloudtolocalllm/api-token"), TOKEN + "\n", { mode: 0o600 });
const env = homeEnv(home);
const url = `http://127.0.0.1:${old.port}`;
afterAll(() => {
  old.stop(true);
  rmSync(home, { recursive: true, force: true });
});

test("a command whose route the older daemon lacks says it runs another version and how to restart it", async () => {
  const r = await runCli(env, "dashboard", "approve", "--url", url);
  expect(r.code).toBe(1);
  expect(r.err).toBe(
    `cloudtolocalllm-tunnel dashboard: the daemon at ${url} has no route GET /api/v1/dashboard/requests: it runs another version than this command (not restarted after an upgrade?); restart it onto this one: \`systemctl --user restart cloudtolocalllm-tunnel.service\` [daemon_refused]\n`,
  );
});

test("models against a daemon whose list names no loaded upstreams: the table with LOADED ?, exit 0", async () => {
  const r = await runCli(env, "models", "--url", url);
  expect(r).toMatchObject({ code: 0, err: "" });
  expect(r.out).toContain("llama3.2:1b  fake       ?\n");
});
