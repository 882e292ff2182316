// The promises about secrets (README "Sign-in and secrets", docs/auth.md), attacked through real processes: a token pasted
// into the config that the relay refuses and an issuer that quotes the refresh token in its refusal (each looked for in every
// output another local user or `ps` can see), and a value typed into `secret set` on a terminal.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, TEST_DAEMON_TOML, homeEnv, removeHome, startDaemon, tempHome, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { runCli } from "../api/cli.ts";
import { daemonToml, relayToml, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

/**
 * A notify-send on PATH that writes down its arguments (what `ps` shows every user on the machine while it runs), and a
 * session bus address so the daemon's notifier runs it (the stand-in needs no bus).
 */
function fakeNotifySend(home: string): { log: string; env: Record<string, string> } {
  const bin = join(home, "bin");
  mkdirSync(bin);
  const log = join(home, "notify-send.args");
  writeFileSync(join(bin, "notify-send"), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done >> "${log}"\n`, { mode: 0o755 });
  return { log, env: { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(home, "no-bus")}` } };
}

/** A token as `relay hash-token --generate` prints it (base64url), here always with a - and a _ in it, as three in four are. */
function relayToken(): string {
  const t = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url").split("");
  t[12] = "-";
  t[25] = "_";
  return t.join("");
}

describe.each([
  // A vendor-shaped key: the config reads it as the credential itself, not as the name of a stored one.
  ["a vendor-shaped key", `sk-pasted${crypto.randomUUID().replace(/-/g, "")}`],
  // The relay's own token: it was read as the name of a secret to store, and that name quoted in the open status.
  ["the relay's own generated token", relayToken()],
])("%s pasted into [tunnel] token_secret (README: a credential pasted straight into such a field still works, with a warning)", (_what, PASTED) => {
  // What a cut-short message would still show of it.
  const CORE = PASTED.slice(9, 25);
  let fake: FakeOllama;
  let relay: RelayProc;
  let d: DaemonProc;
  let notifyLog: string;

  beforeAll(async () => {
    fake = await startFakeOllama({ models: ["llama3.2:1b"] });
    // The relay expects another agent token: it refuses the pasted one, so the tunnel shows its fix and the alert fires.
    relay = await startRelayProc(relayToml());
    const home = tempHome("c2l-pasted-");
    const notify = fakeNotifySend(home);
    notifyLog = notify.log;
    const config = `${daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: `token_secret = "${PASTED}"` })}
[alerts]
notifications = true
[tray]
enabled = "never"
`;
    d = await startDaemon({
      home,
      config,
      env: notify.env,
      waitFor: ["api", "broker"],
    });
  }, 60_000);
  afterAll(async () => {
    await d?.stop();
    await relay?.stop();
    await fake?.stop();
    if (d) removeHome(d.home);
  }, 30_000);

  /** `doctor` with the daemon's own config, as the user runs it (it finds the daemon's random API port where the daemon recorded it). */
  async function doctor(...args: string[]) {
    return runCli({ ...d.env, DBUS_SESSION_BUS_ADDRESS: "" }, "doctor", "--config", d.configFile, ...args);
  }

  test("the relay refuses it: the fix, the alert and its notification say what to do without quoting the token anywhere", async () => {
    const api = d.urls.api!;
    const tunnel = await until(async () => {
      const t = (await (await fetch(`${api}/api/v1/tunnel`)).json()) as { state: string; lastErrorCode: string | null; fix: string | null };
      return t.state === "auth_failed" && t.fix ? t : null;
    }, 20_000, `the relay to refuse the pasted token (daemon log:\n${d.stderr()})`);
    // Taken as the token, not as the name of one to store (which the fix would then quote, open to every local user).
    expect(tunnel.fix).not.toContain(CORE);
    expect(tunnel.lastErrorCode).toBe("unauthorized");
    // What to do still fits the setup: store it under a name and put the name in the field.
    expect(tunnel.fix).toContain("`cloudtolocalllm-tunnel secret set tunnel-token`");
    expect(tunnel.fix).toContain("[tunnel] token_secret");
    await until(() => existsSync(notifyLog) && readFileSync(notifyLog, "utf8").includes("Tunnel token refused"), 10_000, "the desktop notification");

    // Every output of the daemon: the open reads any local user can make, the CLI, doctor, the notification's argv, the log.
    const open = await Promise.all(
      ["/api/v1/status", "/api/v1/tunnel", "/api/v1/events", "/api/v1/auth", "/api/v1/upstreams", "/metrics"].map(async (p) => [p, await (await fetch(api + p)).text()] as const),
    );
    const status = JSON.parse(open[0]![1]) as { alerts: { rule: string; message: string }[]; warnings: string[] };
    expect(status.alerts.find((a) => a.rule === "login_required")?.message).toContain("secret set tunnel-token");
    expect(status.warnings.some((w) => w.includes("tunnel.token_secret"))).toBe(true);
    // doctor reaches this daemon and reports the refusal with its fix (where a leak would show), as the user sees it.
    const doc = await doctor();
    expect(doc.out).toMatch(/✓ Daemon +the control API answers at /);
    expect(doc.out).toMatch(/✗ Relay +127\.0\.0\.1:\d+ answers, but the tunnel is auth failed/);
    const outputs: (readonly [string, string])[] = [
      ...open,
      ["status", (await runCli(d.env, "status", "--url", api)).out],
      ["status --json", (await runCli(d.env, "status", "--json", "--url", api)).out],
      ["doctor", doc.out],
      ["doctor --json", (await doctor("--json")).out],
      ["notify-send's arguments", readFileSync(notifyLog, "utf8")],
      ["the log", d.stderr()],
    ];
    const leaks = outputs.filter(([, text]) => text.includes(PASTED) || text.includes(CORE)).map(([where]) => where);
    expect(leaks).toEqual([]);
  }, 60_000);
});

describe("an issuer that echoes the refresh token in its error (docs/auth.md: tokens never go to /api/v1/status, /api/v1/events or /ws)", () => {
  const REFRESH = `rt-${crypto.randomUUID()}`;
  let issuer: ReturnType<typeof Bun.serve>;
  let grants = 0;
  let d: DaemonProc;
  let notifyLog: string;

  beforeAll(async () => {
    // Discovery and a token endpoint that refuses every refresh, quoting the token it was sent (some issuers do).
    issuer = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const base = `http://127.0.0.1:${issuer.port}`;
        const path = new URL(req.url).pathname;
        if (path === "/.well-known/openid-configuration")
          return Response.json({ issuer: base, token_endpoint: `${base}/token`, authorization_endpoint: `${base}/auth`, device_authorization_endpoint: `${base}/device`, jwks_uri: `${base}/jwks`, response_types_supported: ["code"] });
        if (path === "/token") {
          grants++;
          const sent = new URLSearchParams(await req.text()).get("refresh_token");
          return Response.json({ error: "invalid_grant", error_description: `refresh token ${sent} has been revoked` }, { status: 400 });
        }
        return new Response("not found", { status: 404 });
      },
    });
    const iss = `http://127.0.0.1:${issuer.port}`;
    const home = tempHome("c2l-echo-");
    const notify = fakeNotifySend(home);
    notifyLog = notify.log;
    // A session signed in earlier, its access token run out: the daemon refreshes it at once.
    const session = { issuer: iss, clientId: "c2l-desktop", accessToken: `at-${crypto.randomUUID()}`, refreshToken: REFRESH, idToken: null, expiresAt: Date.now() - 60_000, subject: "alice", name: null, issuedAt: Date.now() - 120_000 };
    mkdirSync(join(home, ".local/state/cloudtolocalllm"), { recursive: true });
    writeFileSync(join(home, ".local/state/cloudtolocalllm/secrets.json"), JSON.stringify({ version: 1, secrets: { "auth-session": JSON.stringify(session) } }), { mode: 0o600 });
    d = await startDaemon({
      home,
      config: `${TEST_DAEMON_TOML}[auth]\nissuer = "${iss}"\nclient_id = "c2l-desktop"\n[alerts]\nnotifications = true\n[tray]\nenabled = "never"\n`,
      env: notify.env,
    });
  }, 60_000);
  afterAll(async () => {
    await d?.stop();
    issuer?.stop(true);
    if (d) removeHome(d.home);
  }, 30_000);

  test("the refusal reaches the state, the alert and its notification with its reason, and the token nowhere", async () => {
    const api = d.urls.api!;
    const auth = await until(async () => {
      const a = (await (await fetch(`${api}/api/v1/auth`)).json()) as { state: string; reason?: string | null };
      return a.state === "login_required" ? a : null;
    }, 20_000, `login_required (daemon log:\n${d.stderr()})`);
    expect(grants).toBeGreaterThanOrEqual(1);
    // What the issuer said is still there to read, with the token taken out.
    expect(auth.reason).toContain("invalid_grant: refresh token [redacted] has been revoked");
    await until(() => existsSync(notifyLog) && readFileSync(notifyLog, "utf8").includes("Sign-in required"), 10_000, "the desktop notification");
    const open = await Promise.all(["/api/v1/auth", "/api/v1/status", "/api/v1/events", "/metrics"].map(async (p) => [p, await (await fetch(api + p)).text()] as const));
    const outputs: (readonly [string, string])[] = [
      ...open,
      ["whoami --json", (await runCli(d.env, "whoami", "--json", "--url", api)).out],
      ["status", (await runCli(d.env, "status", "--url", api)).out],
      ["notify-send's arguments", readFileSync(notifyLog, "utf8")],
      ["the log", d.stderr()],
    ];
    expect(outputs.filter(([, text]) => text.includes(REFRESH)).map(([where]) => where)).toEqual([]);
  }, 60_000);
});

const { test: ttyTest } = requireTools(["script"]);

describe("`secret set` (README: reads the value from stdin, typed without echo, or piped; never as an argument)", () => {
  let home: string;
  let env: Record<string, string>;
  let configFile: string;
  beforeAll(() => {
    home = tempHome("c2l-secret-tty-");
    env = homeEnv(home);
    configFile = join(home, ".config/cloudtolocalllm/tunnel.toml");
    mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
    writeFileSync(configFile, TEST_DAEMON_TOML, { mode: 0o600 });
  });
  afterAll(() => removeHome(home));

  const cli = (...args: string[]) => runCli(env, ...args, "--config", configFile);
  const sh = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

  /** Runs `secret set NAME` on a pseudo-terminal (`script`) and types `keys` after the prompt; what the terminal showed, and the exit code. */
  async function typeInto(name: string, keys: string): Promise<{ code: number | string; shown: string }> {
    const argv = [BUN, join(REPO, "src/main.ts"), "secret", "set", name, "--config", configFile];
    const p = Bun.spawn(["script", "-qfec", "exec " + argv.map(sh).join(" "), "/dev/null"], { env: { ...env, SHELL: "/bin/sh", TERM: "xterm" }, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    let shown = "";
    const reading = (async () => {
      const dec = new TextDecoder();
      for await (const c of p.stdout) shown += dec.decode(c, { stream: true });
    })();
    try {
      await until(() => shown.includes(`Value for ${name} (input hidden): `), 15_000, `the prompt (terminal: ${JSON.stringify(shown)})`);
      // A person starts typing after the prompt; the pause lets the program switch the terminal to no-echo first.
      await Bun.sleep(300);
      p.stdin.write(keys);
      p.stdin.flush();
      const code = await Promise.race([p.exited, Bun.sleep(15_000).then(() => "hung")]);
      return { code, shown };
    } finally {
      p.kill();
      await p.exited;
      await reading;
    }
  }

  ttyTest("typed on a terminal: nothing is echoed, the value is stored as typed (backspace honoured), and the command ends", async () => {
    const typed = await typeInto("openai-key", "sk-typed-Secret-valuX\x7fe-42\r");
    expect(typed.code).toBe(0);
    expect(typed.shown).toContain('Stored "openai-key" (file).');
    expect(typed.shown).not.toContain("typed");
    expect(typed.shown).not.toContain("Secret");
    expect(await cli("secret", "get", "openai-key")).toMatchObject({ code: 0, out: "sk-typed-Secret-value-42\n" });
  }, 40_000);

  ttyTest("keys that are not characters never land in the secret: Ctrl-D ends the input (on an empty line, nothing is stored), arrows and Ctrl-U do not type", async () => {
    await cli("secret", "delete", "ssh-key");
    const first = await typeInto("ssh-key", "sk-first-value-7\r");
    expect(first.code).toBe(0);
    // Ctrl-D on an empty line, as at a shell prompt: nothing replaces the stored value.
    const aborted = await typeInto("ssh-key", "\x04");
    expect(aborted.code).toBe(1);
    expect(aborted.shown).toContain("the value is empty; nothing was stored.");
    expect((await cli("secret", "get", "ssh-key")).out).toBe("sk-first-value-7\n");
    // Arrow keys and Home send escape sequences; Ctrl-U starts the line over; Ctrl-D ends a typed value.
    const edited = await typeInto("ssh-key", "sk-wrong\x1b[D\x1b[D\x1bOH\x15sk-second\x1b[C-value-8\x04");
    expect(edited.code).toBe(0);
    expect((await cli("secret", "get", "ssh-key")).out).toBe("sk-second-value-8\n");
  }, 60_000);

  test("a value on the command line is refused (exit 2, saying why) and nothing is stored", async () => {
    const r = await cli("secret", "set", "other-key", "sk-on-the-command-line-0123");
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe("cloudtolocalllm-tunnel secret: set takes only NAME; the value is read from stdin so it never shows in the process list. [usage]");
    expect((await cli("secret", "list")).out.split("\n")).not.toContain("other-key");
  }, 20_000);
});
