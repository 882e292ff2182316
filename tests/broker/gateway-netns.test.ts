// require_key from the network's side: in a private network namespace another machine's address (10.9.0.1) needs a key,
// this machine's does not; a listener beyond loopback without a key is refused at start and at reload.
import { expect } from "bun:test";
import { join } from "node:path";
import { requireTools } from "../helpers/requires.ts";
import { NETNS_NEEDS } from "../helpers/netns.ts";

const { test } = requireTools(NETNS_NEEDS);

interface Reply {
  status: number;
  body: string;
}

test("auto: another machine needs a key and this one does not; always: everyone does; no key beyond loopback is refused", async () => {
  const scenario = join(import.meta.dir, "gateway-netns-scenario.ts");
  const p = Bun.spawn(["unshare", "-rn", "sh", "-c", 'ip link set lo up && ip addr add 10.9.0.1/24 dev lo && exec "$0" "$@"', process.execPath, scenario], {
    env: process.env,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  let r: {
    startWithoutKey: { code: number | null; stderr: string };
    rejectedLog: string;
  } & Record<"local" | "lanNoKey" | "lanKey" | "lanPlaceholder" | "localAlways" | "localAlwaysKey" | "afterRejectedReload", Reply>;
  try {
    r = JSON.parse(out);
  } catch {
    throw new Error(`the scenario failed (exit ${p.exitCode}):\n${out}\n${err}`);
  }
  expect(r.startWithoutKey.code).not.toBe(0);
  expect(r.startWithoutKey.code).not.toBeNull();
  expect(r.startWithoutKey.stderr).toContain('[proxy] listen = "0.0.0.0:11435" reaches other machines');
  expect(r.local.status).toBe(200);
  expect(r.lanNoKey.status).toBe(401);
  expect(JSON.parse(r.lanNoKey.body).error).toContain("an API key is required for callers from another machine");
  expect(r.lanPlaceholder.status).toBe(401);
  expect(r.lanKey.status).toBe(200);
  expect(JSON.parse(r.lanKey.body).models.map((m: { name: string }) => m.name)).toEqual(["llama3.2:1b"]);
  expect(r.localAlways.status).toBe(401);
  expect(r.localAlwaysKey.status).toBe(200);
  expect(r.afterRejectedReload.status).toBe(401); // "always" stayed in force
  expect(r.rejectedLog).toContain("needs an API key that does not exist yet");
}, 90_000);
