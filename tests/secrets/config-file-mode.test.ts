// A hand-written config file that holds a secret (a URL with a password, a pasted token) is made 0600 by the daemon,
// at start and when a reload brings one in, as the API token and secrets files are; one without secrets is left as it is.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, statSync, writeFileSync } from "node:fs";
import { removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let d: DaemonProc | undefined;
afterAll(async () => {
  await d?.stop();
  if (d) removeHome(d.home);
});

const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

test("a config file others can read is made 0600 once it holds a secret, and says so in the log", async () => {
  const plain = `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\n`;
  d = await startDaemon({ config: plain, waitFor: [] });
  // As an editor with the usual umask leaves it; the daemon was started on it below.
  await d.stop();
  chmodSync(d.configFile, 0o644);
  const home = d.home;
  d = await startDaemon({ home, config: undefined, waitFor: ["api"] });
  // Nothing secret in it: the user's mode stays.
  expect(mode(d.configFile)).toBe("644");

  // An edit brings a password into an upstream's URL (writeFileSync keeps the file's mode).
  writeFileSync(d.configFile, plain.replace("http://127.0.0.1:9", "http://user:s3cretPW@127.0.0.1:9"));
  await until(() => mode(d!.configFile) === "600", 10_000, `the config file to become 0600 (log:\n${d.stderr()})`);
  // The log line may reach this test's pipe a moment after the chmod.
  await until(() => d!.stderr().includes("the config file holds secrets and was readable by others; its mode is now 0600"), 5_000, "the log line");
  expect(d.stderr()).not.toContain("s3cretPW");
  await d.stop();

  // At start too: a token pasted into [tunnel] token_secret (the relay's own shape).
  chmodSync(d.configFile, 0o640);
  writeFileSync(d.configFile, `${plain}[tunnel]\nenabled = false\ntoken_secret = "qHmj4FSdQ1BCA6mZ4lm-hzxtyDVAE9V54S1C38JnlNM"\n`);
  d = await startDaemon({ home, config: undefined, waitFor: ["api"] });
  expect(mode(d.configFile)).toBe("600");
}, 60_000);
