// A config change written through the API is applied once: the file watcher that sees the daemon's own write does not apply it again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";

let d: DaemonProc;
let token: string;

beforeAll(async () => {
  d = await startDaemon({ config: `${TEST_DAEMON_TOML}[health]\ninterval = "30s"\n`, waitFor: ["api"] });
  token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
}, 60_000);
afterAll(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
});

const reloads = async () => {
  const events = (await (await fetch(`${d.urls.api}/api/v1/events`, { headers: { authorization: `Bearer ${token}` } })).json()) as { type: string; data: { sections?: string[]; version?: number } }[];
  return events.filter((e) => e.type === "config.reloaded");
};

test("a PUT is applied exactly once (one config.reloaded), though the watcher sees the file change", async () => {
  const before = (await reloads()).length;
  const text = readFileSync(d.configFile, "utf8").replace('interval = "30s"', 'interval = "20s"');
  const r = await fetch(`${d.urls.api}/api/v1/config`, { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-type": "application/toml" }, body: text });
  expect(r.status).toBe(200);
  // Well past the watcher's debounce (150 ms): a second application would have happened by now.
  await Bun.sleep(1500);
  const after = await reloads();
  expect(after.length).toBe(before + 1);
  expect(after.at(-1)!.data.sections).toEqual(["health"]);
  // The config the daemon started with is version 1; this change is the next one, and the only one.
  expect(after.at(-1)!.data.version).toBe(2);
  expect(d.stderr().match(/configuration reloaded/g)?.length ?? 0).toBe(1);
});

test("an editor's save after that is still applied (once)", async () => {
  const before = (await reloads()).length;
  writeFileSync(d.configFile, readFileSync(d.configFile, "utf8").replace('interval = "20s"', 'interval = "10s"'));
  for (let i = 0; i < 60 && (await reloads()).length === before; i++) await Bun.sleep(50);
  await Bun.sleep(500);
  expect((await reloads()).length).toBe(before + 1);
  expect((await reloads()).at(-1)!.data.version).toBe(3);
});
