// `login --pkce`, `whoami` and `logout` as a user runs them, against a real OpenID provider on loopback.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { authorizationUrl, browse, signInHome, startProvider, type TestProvider } from "./oidc-provider.ts";
import { BUN, homeEnv, removeHome, REPO, tempHome } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let p: TestProvider;
let home: string;
let env: Record<string, string>;

beforeAll(async () => {
  p = await startProvider({ accessTokenTtlSec: 60 });
  ({ home, env } = signInHome(p));
});
afterAll(async () => {
  await p?.close();
  if (home) removeHome(home);
});

// Async on purpose: the provider runs in this process and must keep answering while the command runs.
async function run(args: string[], e = env) {
  const r = Bun.spawn([BUN, join(REPO, "src/main.ts"), ...args], { env: e, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err, code] = await Promise.all([new Response(r.stdout).text(), new Response(r.stderr).text(), r.exited]);
  return { code, out, err };
}
const session = () => {
  const f = JSON.parse(readFileSync(join(home, ".local/state/cloudtolocalllm/secrets.json"), "utf8"));
  return f.secrets["auth-session"] ? JSON.parse(f.secrets["auth-session"]) : null;
};

test("login --pkce: the browser comes back to a loopback port and the tokens land in the secret store only", async () => {
  expect((await run(["whoami"])).code).toBe(1);
  const proc = Bun.spawn([BUN, join(REPO, "src/main.ts"), "login", "--pkce", "--no-browser"], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const { url, all } = await authorizationUrl(proc.stderr);
  const auth = new URL(url);
  expect(auth.origin).toBe(p.issuer);
  expect(auth.searchParams.get("code_challenge_method")).toBe("S256");
  const redirect = new URL(auth.searchParams.get("redirect_uri")!);
  expect(redirect.hostname).toBe("127.0.0.1");
  expect(Number(redirect.port)).toBeGreaterThan(0);
  const cmdline = readFileSync(`/proc/${proc.pid}/cmdline`, "utf8");

  const page = await browse(url, "bob");
  expect(page.body).toContain("CloudToLocalLLM is signed in");
  expect(await proc.exited).toBe(0);
  const err = await all();
  const out = await new Response(proc.stdout).text();
  expect(out).toContain("Signed in as Test bob (bob).");

  const s = session();
  expect(s.refreshToken).toBeTruthy();
  for (const t of [s.accessToken, s.refreshToken, s.idToken]) {
    expect(out + err + cmdline + readFileSync(join(home, ".config/cloudtolocalllm/tunnel.toml"), "utf8")).not.toContain(t);
  }

  const who = await run(["whoami"]);
  expect(who.code).toBe(0);
  expect(who.out).toContain("Signed in as Test bob (bob)");
  const json = await run(["whoami", "--json"]);
  expect(JSON.parse(json.out)).toMatchObject({ state: "signed_in", subject: "bob" });
  for (const t of [s.accessToken, s.refreshToken, s.idToken]) expect(who.out + json.out).not.toContain(t);
}, 30_000);

test("logout revokes the refresh token at the issuer and deletes the stored tokens", async () => {
  const s = session();
  expect(await p.provider.RefreshToken.find(s.refreshToken)).toBeTruthy();
  const out = await run(["logout"]);
  expect(out.code).toBe(0);
  expect(out.out).toContain("Signed out Test bob");
  expect(await p.provider.RefreshToken.find(s.refreshToken)).toBeFalsy();
  expect(session()).toBeNull();
  const who = await run(["whoami"]);
  expect(who.code).toBe(1);
  expect(who.out).toContain("Not signed in");
}, 20_000);

test("login explains a missing [auth] configuration in one sentence", async () => {
  const other = tempHome();
  try {
    const r = await run(["login"], homeEnv(other));
    expect(r.code).toBe(1);
    expect(r.err).toContain("Sign-in is not configured: set [auth] issuer and client_id");
  } finally {
    removeHome(other);
  }
});

test("Ctrl-C while the device sign-in waits: says it was cancelled, at once (not openid-client's 'something went wrong' after its 5 s poll)", async () => {
  const proc = Bun.spawn([BUN, join(REPO, "src/main.ts"), "login", "--device", "--no-browser"], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  let err = "";
  void (async () => {
    for await (const c of proc.stderr) err += new TextDecoder().decode(c);
  })();
  while (!err.includes("Waiting for the sign-in") && proc.exitCode === null) await Bun.sleep(50);
  const sent = Date.now();
  proc.kill("SIGINT");
  const code = await proc.exited;
  const took = Date.now() - sent;
  await Bun.sleep(50);
  expect(err).toContain("The sign-in was cancelled.");
  expect(err).not.toContain("something went wrong");
  expect(code).not.toBe(0);
  // The provider polls every 5 s; the command must not sit out the interval.
  expect(took).toBeLessThan(4000);
}, 30_000);

/** Sends `raw` on a new connection to 127.0.0.1:port; everything received until the server closes it. */
function exchange(port: number, raw: string): Promise<string> {
  return new Promise((resolve) => {
    let out = "";
    const s = connect({ host: "127.0.0.1", port }, () => s.write(raw));
    s.setEncoding("latin1");
    s.on("data", (d) => (out += d));
    s.on("end", () => resolve(out));
    s.on("error", () => resolve(out));
    setTimeout(() => (s.destroy(), resolve(out)), 5000);
  });
}

test("the sign-in's loopback listeners (the device code's private link, the PKCE callback) answer HTTP/1.0 without Host or CONNECT with a 400; login writes no stack", async () => {
  // A stand-in for xdg-open that records the private link it was asked to open.
  const bin = join(home, "bin-abuse");
  const opened = join(home, "opened-abuse");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "xdg-open"), `#!/bin/sh\nprintf '%s' "$1" > "${opened}"\n`, { mode: 0o755 });
  const device = Bun.spawn([BUN, join(REPO, "src/main.ts"), "login", "--device"], { env: { ...env, DISPLAY: ":99", PATH: `${bin}:${env.PATH ?? process.env.PATH}` }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const deviceErr = new Response(device.stderr).text();
  const pkce = Bun.spawn([BUN, join(REPO, "src/main.ts"), "login", "--pkce", "--no-browser"], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  try {
    const link = new URL(await until(() => existsSync(opened) && readFileSync(opened, "utf8"), 15_000, "xdg-open to be run"));
    const { url, all } = await authorizationUrl(pkce.stderr);
    const callback = new URL(new URL(url).searchParams.get("redirect_uri")!);
    for (const [name, port, path] of [["private link", link.port, link.pathname], ["PKCE callback", callback.port, "/callback"]] as const) {
      for (const raw of [`GET ${path} HTTP/1.0\r\n\r\n`, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n"]) {
        const answer = await exchange(Number(port), raw);
        // Before: 500 and Bun's HTML page quoting private-link.ts / pkce-flow.ts (new URL() of the bare target).
        expect({ name, raw, status: answer.split(" ")[1], body: answer.slice(answer.indexOf("\r\n\r\n") + 4) }).toEqual({ name, raw, status: "400", body: expect.stringMatching(/no Host header|CONNECT is not supported/) });
      }
    }
    device.kill("SIGINT");
    pkce.kill("SIGINT");
    await Promise.all([device.exited, pkce.exited]);
    for (const text of [await deviceErr, await all()]) expect(text).not.toMatch(/Invalid URL|\n\s+at \S|^\d+ \| /m);
  } finally {
    device.kill("SIGKILL");
    pkce.kill("SIGKILL");
  }
}, 30_000);
