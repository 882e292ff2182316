// https upstreams behind a self-signed certificate made here by openssl, through a real daemon: NODE_TLS_REJECT_UNAUTHORIZED=0
// in its environment does not turn their checks off; [[upstreams]] ca_file trusts the certificate; tls_insecure is an
// explicit, logged opt-out; a wrong or unreadable ca_file says so. doctor judges them as the daemon does.
import { expect } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ollama } from "ollama";
import { apiToken, removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { checkUpstreams } from "../../src/cli/doctor-checks.ts";
import { defaultConfig, parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";

const { afterAll, beforeAll, test } = requireTools(["openssl"]);

const MODEL = "m:1b";
let dir: string;
let fake: FakeOllama;
let front: ReturnType<typeof Bun.serve>;
let url: string;
let d: DaemonProc;
let token: string;

function sh(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
}

/** [[upstreams]] entries on the one https front, each with its own TLS settings. */
const UPSTREAMS: Record<string, string> = {
  // Priority 1: requests go to it (the one that works with its certificate verified).
  pinned: `ca_file = "{dir}/up.pem"\npriority = 1`,
  plain: "",
  insecure: "tls_insecure = true",
  other: `ca_file = "{dir}/other.pem"`,
  missing: `ca_file = "{dir}/missing.pem"`,
  garbage: `ca_file = "{dir}/garbage.pem"`,
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "c2l-upstream-tls-"));
  sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "up.key", "-out", "up.pem", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]);
  sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=c2l other CA"]);
  writeFileSync(join(dir, "garbage.pem"), "not a certificate\n");
  fake = await startFakeOllama({ models: [MODEL] });
  // The upstream over https with the self-signed certificate: a TLS front for the fake.
  front = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: Bun.file(join(dir, "up.pem")), key: Bun.file(join(dir, "up.key")) },
    fetch: (req) => {
      const u = new URL(req.url);
      return fetch(fake.url + u.pathname + u.search, { method: req.method, headers: req.headers, body: req.body });
    },
  });
  url = `https://127.0.0.1:${front.port}`;
  const entries = Object.entries(UPSTREAMS).map(([name, extra]) => `[[upstreams]]\nname = "${name}"\nurl = "${url}"\n${extra.replaceAll("{dir}", dir)}\n`);
  // The variable set for some other tool: before, every https upstream here was called without a certificate check.
  d = await startDaemon({ config: `${TEST_DAEMON_TOML}[health]\ninterval = "1s"\n${entries.join("")}`, env: { NODE_TLS_REJECT_UNAUTHORIZED: "0" }, waitFor: ["api", "broker"] });
  token = await apiToken(d);
}, 30_000);

afterAll(async () => {
  await d?.stop();
  front?.stop(true);
  await fake?.stop();
  if (d) removeHome(d.home);
  removeHome(dir);
});

interface Row {
  name: string;
  state: string;
  lastError: string | null;
}
const states = async () =>
  Object.fromEntries(((await (await fetch(`${d.urls.api}/api/v1/upstreams`, { headers: { authorization: `Bearer ${token}` } })).json()) as Row[]).map((u) => [u.name, u]));

test("each https upstream is trusted as its own settings say, whatever NODE_TLS_REJECT_UNAUTHORIZED says; requests go through the pinned one", async () => {
  const st = await until(async () => {
    const s = await states();
    return Object.values(s).every((u) => u.state !== "unknown") ? s : null;
  }, 15_000, "every upstream checked");
  expect(st.pinned!.state).toBe("up");
  expect(st.insecure!.state).toBe("up");
  // Before: "up" (the variable turned the check off for every https upstream).
  expect(st.plain!.state).toBe("down");
  expect(st.plain!.lastError).toContain("TLS certificate not trusted (self-signed): set the upstream's ca_file");
  expect(st.other!.state).toBe("down");
  expect(st.other!.lastError).toContain("not trusted");
  expect(st.missing!.state).toBe("down");
  expect(st.missing!.lastError).toContain(`cannot read its ca_file ${dir}/missing.pem`);
  expect(st.garbage!.state).toBe("down");
  expect(st.garbage!.lastError).toContain("holds no PEM certificate");
  const r = await new Ollama({ host: d.urls.broker! }).chat({ model: MODEL, messages: [{ role: "user", content: "hi" }] });
  expect(r.done).toBe(true);
  expect(fake.requests.filter((q) => q.path === "/api/chat").length).toBe(1);
  // The merged model list asks the upstreams not down with the same trust.
  const tags = (await (await fetch(`${d.urls.broker}/api/tags`)).json()) as { models: { name: string }[] };
  expect(tags.models.map((m) => m.name)).toContain(MODEL);
  // The opt-out and the ignored variable are said in the log, once each.
  expect(d.count(/warn broker: tls_insecure = true: this upstream's certificate is not verified.* upstream=insecure/)).toBe(1);
  expect(d.count(/warn broker: NODE_TLS_REJECT_UNAUTHORIZED=0 is ignored for upstreams/)).toBe(1);
}, 30_000);

test("doctor probes each upstream with the daemon's trust and names the setting that fixes it", async () => {
  const c = defaultConfig();
  const up = (name: string, extra: Partial<Config["upstreams"][number]>) => ({ ...c.upstreams[0]!, name, url, ...extra });
  c.upstreams = [up("pinned", { ca_file: join(dir, "up.pem") }), up("plain", {}), up("missing", { ca_file: join(dir, "missing.pem") })];
  const [pinned, plain, missing] = await checkUpstreams(c, { NODE_TLS_REJECT_UNAUTHORIZED: "0" });
  expect(pinned!.level).toBe("ok");
  expect(plain!.level).toBe("warn");
  expect(plain!.detail).toContain('TLS certificate not trusted (self-signed; set ca_file on upstream "plain")');
  expect(missing!.detail).toContain("cannot read its ca_file");
  expect(missing!.fix).toContain('ca_file of upstream "missing"');
});

test("config: ca_file or tls_insecure on an http:// upstream, or both at once, is refused naming the field", () => {
  const bad = parseConfig(
    `[[upstreams]]\nname = "a"\nurl = "http://127.0.0.1:1"\nca_file = "/x.pem"\n[[upstreams]]\nname = "b"\nurl = "${url}"\nca_file = "/x.pem"\ntls_insecure = true\n`,
    "t.toml",
  );
  expect(bad.ok).toBe(false);
  const issues = (bad as { issues: { path: string; message: string }[] }).issues.map((i) => `${i.path}: ${i.message}`);
  expect(issues).toContain("upstreams[0].ca_file: is only used with an https:// URL (url is \"http://127.0.0.1:1\")");
  expect(issues).toContain("upstreams[1].tls_insecure: turns certificate checks off, so ca_file would not be used: set one of them");
});
