// Another local user who reads a sign-in's URL from the process list (xdg-open's and the browser's argv are world-readable
// in /proc) cannot use it to sign this user's daemon in to their own account: the device code reaches only this user's
// browser, and the PKCE callback answers only it. A real OpenID provider; curl as uid 65534 plays the other user.
import { expect } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireTools } from "../helpers/requires.ts";
import { ROOT, curlAsNobody } from "../helpers/other-user.ts";
import { authorizationUrl, browse, signInHome, startProvider, type TestProvider } from "./oidc-provider.ts";
import { BUN, homeEnv, removeHome, REPO, tempHome } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

const { afterAll, beforeAll, test } = requireTools(["setpriv", "curl", ROOT]);

let p: TestProvider;
let home: string;
let env: Record<string, string>;

beforeAll(async () => {
  p = await startProvider({ accessTokenTtlSec: 60 });
  ({ home, env } = signInHome(p));
  // A stand-in for xdg-open that records what it was asked to open.
  mkdirSync(join(home, "bin"));
  writeFileSync(join(home, "bin/xdg-open"), `#!/bin/sh\nprintf '%s' "$1" > "${join(home, "opened")}"\n`, { mode: 0o755 });
});
afterAll(async () => {
  await p?.close();
  if (home) removeHome(home);
});

async function whoami(): Promise<string> {
  const r = Bun.spawn([BUN, join(REPO, "src/main.ts"), "whoami"], { env, stdout: "pipe", stderr: "pipe" });
  return new Response(r.stdout).text();
}

test("device sign-in: argv gets a loopback link without the code; only this user's browser is sent on to the code", async () => {
  const proc = Bun.spawn([BUN, join(REPO, "src/main.ts"), "login", "--device"], {
    env: { ...env, DISPLAY: ":99", PATH: `${join(home, "bin")}:${env.PATH ?? process.env.PATH}` },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const err = new Response(proc.stderr).text();
  const openedFile = join(home, "opened");
  const opened = await until(() => existsSync(openedFile) && readFileSync(openedFile, "utf8"), 15_000, "xdg-open to be run");
  expect(opened).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[\w-]{20,}$/);
  expect(opened).not.toContain("user_code");

  // The other user, holding exactly what argv showed: refused, and no code in what they get back.
  const stolen = curlAsNobody(opened);
  expect(stolen.status).toBe(403);
  expect(stolen.headers).not.toContain("location");
  expect(stolen.body).not.toContain("user_code");

  // This user's browser is redirected to the issuer's page with the code filled in, and signs in.
  const mine = await fetch(opened, { redirect: "manual" });
  expect(mine.status).toBe(303);
  const complete = new URL(mine.headers.get("location")!);
  expect(complete.origin).toBe(p.issuer);
  expect(complete.searchParams.get("user_code")).toBeTruthy();
  await browse(complete.href, "carol");
  expect(await proc.exited).toBe(0);
  expect(await err).toContain("(A browser window was opened for you.)");
  expect(await whoami()).toContain("(carol)");
  // The sign-in is over: the link is gone with it.
  await expect(fetch(opened)).rejects.toThrow();
}, 30_000);

test("PKCE sign-in: the callback from another user's browser is refused; this user's browser finishes it", async () => {
  const proc = Bun.spawn([BUN, join(REPO, "src/main.ts"), "login", "--pkce", "--no-browser"], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const { url } = await authorizationUrl(proc.stderr);
  // The other user signs in at the issuer with the URL from argv, as "mallory"; their browser is sent to our callback.
  const { stoppedAt } = await browse(url, "mallory", (u) => u.pathname === "/callback");
  expect(stoppedAt).toContain("/callback?");
  const stolen = curlAsNobody(stoppedAt!);
  expect(stolen.status).toBe(403);
  expect(stolen.body).toContain("Only the user who started the sign-in can finish it.");
  // The flow is still waiting; a sign-in by this user's browser ends it.
  const { stoppedAt: own } = await browse(url, "dave", (u) => u.pathname === "/callback");
  const page = await fetch(own!);
  expect(await page.text()).toContain("CloudToLocalLLM is signed in");
  expect(await proc.exited).toBe(0);
  expect(await whoami()).toContain("(dave)");
}, 30_000);
