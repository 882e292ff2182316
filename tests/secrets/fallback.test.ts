// Without a Secret Service: the daemon and the CLI fall back to the 0600 file, and status and doctor say so.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { BUN, removeHome, REPO, startDaemon, type DaemonProc } from "../helpers/daemon.ts";

let d: DaemonProc;
beforeAll(async () => {
  // No DBUS_SESSION_BUS_ADDRESS and no $XDG_RUNTIME_DIR/bus in the temp home: there is no keyring to find.
  d = await startDaemon({ config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n` });
});
afterAll(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
});

async function cli(args: string[], stdin?: string) {
  const p = Bun.spawn([BUN, join(REPO, "src/main.ts"), ...args], { env: d.env, stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { out, err, code };
}

test("the fallback file is 0600, and status and doctor warn about it", async () => {
  const file = join(d.home, ".local/state/cloudtolocalllm/secrets.json");
  const set = await cli(["secret", "set", "openai-key"], "sk-fallback-0123456789");
  expect(set.code).toBe(0);
  expect(set.err).toContain(`secrets are kept in ${file} (mode 0600)`);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(JSON.parse(readFileSync(file, "utf8")).secrets["openai-key"]).toBe("sk-fallback-0123456789");

  const status = (await (await fetch(`${d.urls.api}/api/v1/status`)).json()) as { warnings: string[] };
  expect(status.warnings.some((w) => w.startsWith("No desktop keyring") && w.includes(file))).toBe(true);
  expect(d.stderr()).toContain("secrets: No desktop keyring");

  const doctor = await cli(["doctor", "--json"]);
  const check = (JSON.parse(doctor.out) as { checks: { name: string; level: string; detail: string }[] }).checks.find((c) => c.name === "Secret store");
  expect(check).toMatchObject({ level: "warn" });
  expect(check!.detail).toContain("No desktop keyring");
  expect(set.out + set.err + doctor.out + JSON.stringify(status) + d.stderr()).not.toContain("sk-fallback-0123456789");
}, 30_000);
