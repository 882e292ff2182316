// An auth_secret (or a password in the url) sent over http:// to another machine, through a real daemon and `doctor`:
// warned once as the upstream is set up (start, a reload that changes it), never at every health check; loopback and
// https:// upstreams are not.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { apiToken, BUN, REPO, removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let d: DaemonProc;
const URL_PASSWORD = "pw-cleartext-6a0c";
/** Another machine (a name that resolves nowhere: the warning is about the url, not about reaching it). */
const LAN = "http://gpu-box.invalid:11434";
const config = (lanPriority: number, localPriority: number) =>
  `${TEST_DAEMON_TOML}[health]\ninterval = "200ms"\ndown_interval = "200ms"\ntimeout = "1s"\n` +
  `[[upstreams]]\nname = "lan"\nurl = "${LAN}"\npriority = ${lanPriority}\nauth_secret = "lan-key"\n` +
  `[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9/"\npriority = ${localPriority}\nauth_secret = "local-key"\n` +
  `[[upstreams]]\nname = "tls"\nurl = "https://gpu-box.invalid:8443"\nauth_secret = "tls-key"\n` +
  `[[upstreams]]\nname = "basic"\nurl = "http://operator:${URL_PASSWORD}@nginx-box.invalid:8080"\n` +
  `[[upstreams]]\nname = "basic-local"\nurl = "http://operator:${URL_PASSWORD}@127.0.0.1:9"\n`;
const URL_WARNING = /warn broker: upstream "basic" gets the credential in its url \(sent as Basic auth\) in cleartext: its url is http:\/\/ to nginx-box\.invalid:8080, another machine/;
const WARNING = /warn broker: upstream "lan" gets its auth_secret in cleartext: its url is http:\/\/ to gpu-box\.invalid:11434, another machine/;

beforeAll(async () => {
  d = await startDaemon({ config: config(1, 2), waitFor: ["api", "broker"] });
}, 30_000);

afterAll(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
});

/** Waits for the daemon to apply the config file's new text (SIGHUP, as `systemctl reload` sends). */
async function reload(text: string): Promise<void> {
  const before = d.count(/configuration reloaded/);
  writeFileSync(d.configFile, text);
  d.proc.kill("SIGHUP");
  await until(() => d.count(/configuration reloaded/) > before, 10_000, "the reload");
}

test("the daemon warns once per setup of the upstream: at start, not at each health check, again on a reload that changes it", async () => {
  await d.waitFor(WARNING);
  // Health checks every 200 ms (each failing: the host resolves nowhere): three more, and none repeats the warning.
  const token = await apiToken(d);
  const lastCheck = async () =>
    ((await (await fetch(`${d.urls.api}/api/v1/upstreams`, { headers: { authorization: `Bearer ${token}` } })).json()) as { name: string; lastCheck: string | null }[]).find((u) => u.name === "lan")!.lastCheck;
  for (let i = 0; i < 3; i++) {
    const before = await lastCheck();
    await until(async () => (await lastCheck()) !== before, 10_000, "the next health check of lan");
  }
  expect(d.count(WARNING)).toBe(1);
  // Loopback (whatever its port) and https:// are not warned about.
  expect(d.count(/upstream "local" gets its auth_secret/)).toBe(0);
  expect(d.count(/upstream "tls" gets its auth_secret/)).toBe(0);
  // A reload that leaves "lan" as it is: no new warning; one that changes it sets it up again: warned again.
  await reload(config(1, 3));
  expect(d.count(WARNING)).toBe(1);
  await reload(config(5, 3));
  await until(() => d.count(WARNING) === 2, 5000, "the warning after the reload");
}, 40_000);

test("doctor shows the same warning, with the fix, for those upstreams alone (an auth_secret, a password in the url)", async () => {
  const p = Bun.spawn([BUN, join(REPO, "src/main.ts"), "doctor", "--json", "--config", d.configFile], { env: d.env, stdout: "pipe", stderr: "pipe" });
  const [out] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  const checks = (JSON.parse(out) as { checks: { name: string; level: string; detail: string; fix?: string }[] }).checks;
  const cred = checks.filter((c) => c.name.endsWith(" credential"));
  expect(cred).toEqual([
    {
      name: 'Upstream "lan" credential',
      level: "warn",
      detail: 'upstream "lan" gets its auth_secret in cleartext: its url is http:// to gpu-box.invalid:11434, another machine, so anyone on the network path can read the key; use https:// (ca_file for a private CA), or reach it through an SSH tunnel or a VPN',
      fix: 'set url = "https://…" for upstream "lan" (its server must serve TLS), or reach it through an SSH tunnel or a VPN',
    },
    {
      name: 'Upstream "basic" credential',
      level: "warn",
      detail: 'upstream "basic" gets the credential in its url (sent as Basic auth) in cleartext: its url is http:// to nginx-box.invalid:8080, another machine, so anyone on the network path can read the key; use https:// (ca_file for a private CA), or reach it through an SSH tunnel or a VPN',
      fix: 'set url = "https://…" for upstream "basic" (its server must serve TLS), or reach it through an SSH tunnel or a VPN',
    },
  ]);
  expect(out).not.toContain(URL_PASSWORD);
}, 30_000);

test("a password in an http:// url to another machine is warned about as an auth_secret is, without the password; on loopback it is not", async () => {
  await d.waitFor(URL_WARNING);
  expect(d.count(/upstream "basic-local" gets/)).toBe(0);
  expect(d.stderr()).not.toContain(URL_PASSWORD);
});
