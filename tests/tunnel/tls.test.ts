// TLS on the relay with a CA made here by openssl: the agent trusts it through [tunnel] ca_file, which adds to the system store.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiToken } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { until } from "../helpers/until.ts";
import { AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "./helpers.ts";
import { connect, ConnectError } from "../../src/tunnel/connector.ts";
import { checkRelay } from "../../src/cli/doctor-checks.ts";
import { defaultConfig } from "../../src/config/load.ts";
import { closedPort } from "../helpers/own-ports.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, beforeAll, test } = requireTools(["openssl"]);

let dir: string;
let relay: RelayProc;
let fake: FakeOllama;

function sh(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "c2l-tls-"));
  sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=c2l test CA"]);
  // Another private CA, which did not sign the relay's certificate.
  sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=c2l other CA"]);
  sh(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "relay.key", "-out", "relay.csr", "-subj", "/CN=localhost"]);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
  sh(["openssl", "x509", "-req", "-in", "relay.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "relay.pem", "-days", "2", "-extfile", "ext.cnf"]);
  relay = await startRelayProc(relayToml({ tls: { cert: join(dir, "relay.pem"), key: join(dir, "relay.key") } }));
  fake = await startFakeOllama();
}, 30_000);

afterAll(async () => {
  await relay?.stop();
  await fake?.stop();
  cleanup(relay?.dir, dir);
});

test("the relay serves HTTPS and the agent connects over wss when ca_file names the CA", async () => {
  expect(relay.url).toStartWith("https://");
  const daemon = await startAgentDaemon(
    daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^https/, "wss")}/agent`, tunnel: `ca_file = "${join(dir, "ca.pem")}"` }),
  );
  try {
    const res = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/version`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` }, tls: { ca: await Bun.file(join(dir, "ca.pem")).text() } });
    expect(res.status).toBe(200);
  } finally {
    await daemon.stop();
    cleanup(daemon.home);
  }
}, 30_000);

test("the relay's TLS is 1.2 or 1.3: a client offering only TLS 1.0 or 1.1 is refused", () => {
  const negotiated = (flag: string) => {
    const p = Bun.spawnSync(["openssl", "s_client", "-connect", `127.0.0.1:${relay.port}`, flag, "-brief"], { stdin: new TextEncoder().encode("Q\n"), stdout: "pipe", stderr: "pipe" });
    return /Protocol version: (\S+)/.exec(p.stdout.toString() + p.stderr.toString())?.[1] ?? "refused";
  };
  expect(["-tls1", "-tls1_1", "-tls1_2", "-tls1_3"].map(negotiated)).toEqual(["refused", "refused", "TLSv1.2", "TLSv1.3"]);
});

test("without the CA the agent refuses the relay's certificate", async () => {
  const err = await connect({
    url: `${relay.url.replace(/^https/, "wss")}/agent`,
    token: AGENT_TOKEN,
    agent: "test",
    heartbeatMs: 1000,
    toleranceMs: 3000,
    maxStreams: 4,
    onStream: () => {},
    handshakeTimeoutMs: 5_000,
  }).then(
    (c) => (c.close("unexpected"), null),
    (e) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  expect(err.code).toBe("network");
  expect(err.message).toMatch(/TLS verification of the relay failed.*ca_file/);
  expect(relay.count(/agent connected/)).toBe(1); // only the daemon of the first test
});

test("with the CA trusted, a certificate it signed for another name is refused: the agent checks the relay's name", async () => {
  sh(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "elsewhere.key", "-out", "elsewhere.csr", "-subj", "/CN=relay.elsewhere.example"]);
  writeFileSync(join(dir, "elsewhere.cnf"), "subjectAltName=DNS:relay.elsewhere.example\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  sh(["openssl", "x509", "-req", "-in", "elsewhere.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "elsewhere.pem", "-days", "2", "-extfile", "elsewhere.cnf"]);
  const other = await startRelayProc(relayToml({ tls: { cert: join(dir, "elsewhere.pem"), key: join(dir, "elsewhere.key") } }));
  try {
    const err = await connect({
      url: `${other.url.replace(/^https/, "wss")}/agent`,
      token: AGENT_TOKEN,
      caFile: join(dir, "ca.pem"),
      agent: "test",
      heartbeatMs: 1000,
      toleranceMs: 3000,
      maxStreams: 4,
      onStream: () => {},
      handshakeTimeoutMs: 5_000,
    }).then(
      (c) => (c.close("unexpected"), null),
      (e) => e,
    );
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.message).toMatch(/TLS verification of the relay failed .*the relay's certificate is not for the host in \[tunnel\] relay_url/);
    // ca_file holds the right CA: naming it as the fault would send the user the wrong way.
    expect(err.message).not.toContain("ca_file");
    expect(other.count(/agent connected/)).toBe(0);
  } finally {
    await other.stop();
    cleanup(other.dir);
  }
});

test("NODE_TLS_REJECT_UNAUTHORIZED=0 in the daemon's environment (set for another tool) does not turn the agent's verification off", async () => {
  const before = relay.count(/agent connected/);
  // No ca_file: the relay's private CA is trusted nowhere, and the variable would let any certificate through.
  const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^https/, "wss")}/agent` }), { NODE_TLS_REJECT_UNAUTHORIZED: "0" }, false);
  try {
    const headers = { authorization: `Bearer ${await apiToken(daemon)}` };
    const st = await until(
      async () => {
        const t = (await (await fetch(`${daemon.urls.api}/api/v1/tunnel`, { headers })).json()) as { state: string; lastError: string | null };
        return t.lastError?.includes("TLS verification of the relay failed") ? t : null;
      },
      10_000,
      "the tunnel to report the relay's certificate refused",
    );
    expect(st.state).not.toBe("connected");
    expect(relay.count(/agent connected/)).toBe(before);
  } finally {
    await daemon.stop();
    cleanup(daemon.home);
  }
}, 30_000);

// The system store, as OpenSSL (and so Bun) reads it: SSL_CERT_FILE names the system bundle file. The relay's CA is
// installed there only, and ca_file names another CA: ca_file must add to the store, not replace it.
for (const [store, env] of [
  ["the system store (SSL_CERT_FILE)", (ca: string) => ({ SSL_CERT_FILE: ca })],
  ["NODE_EXTRA_CA_CERTS", (ca: string) => ({ NODE_EXTRA_CA_CERTS: ca })],
] as const) {
  test(`ca_file adds to ${store}: a relay signed by a CA trusted there connects while ca_file names another CA`, async () => {
    const before = relay.count(/agent connected/);
    const daemon = await startAgentDaemon(
      daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^https/, "wss")}/agent`, tunnel: `ca_file = "${join(dir, "other.pem")}"` }),
      env(join(dir, "ca.pem")),
    );
    try {
      expect(relay.count(/agent connected/)).toBe(before + 1);
      const res = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/version`, { headers: { Authorization: `Bearer ${CLIENT_KEY}` }, tls: { ca: await Bun.file(join(dir, "ca.pem")).text() } });
      expect(res.status).toBe(200);
    } finally {
      await daemon.stop();
      cleanup(daemon.home);
    }
  }, 30_000);
}

test("with ca_file set, a refused certificate's error names ca_file and the system store instead of asking for ca_file", async () => {
  const caFile = join(dir, "other.pem");
  const err = await connect({
    url: `${relay.url.replace(/^https/, "wss")}/agent`,
    token: AGENT_TOKEN,
    agent: "test",
    caFile,
    heartbeatMs: 1000,
    toleranceMs: 3000,
    maxStreams: 4,
    onStream: () => {},
    handshakeTimeoutMs: 5_000,
  }).then(
    (c) => (c.close("unexpected"), null),
    (e) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  expect(err.code).toBe("network");
  expect(err.message).toContain(`TLS verification of the relay failed`);
  expect(err.message).toContain(`not signed by the CA in [tunnel] ca_file (${caFile})`);
  expect(err.message).toContain("system store");
  expect(err.message).not.toMatch(/set \[tunnel\] ca_file/);
});

test("doctor probes the relay with the tunnel's trust: ca_file naming the CA passes; naming another, the fix names ca_file", async () => {
  const config = (caFile: string) => {
    const c = defaultConfig();
    c.tunnel = { ...c.tunnel, enabled: true, relay_url: `${relay.url.replace(/^https/, "wss")}/agent`, ca_file: caFile };
    // doctor asks the daemon at [api] listen about its tunnel: a port of the test's own, never a daemon on the default.
    c.api = { ...c.api, listen: `127.0.0.1:${closedPort()}` };
    return c;
  };
  expect((await checkRelay(config(join(dir, "ca.pem"))))!.level).toBe("ok");
  const other = join(dir, "other.pem");
  const r = (await checkRelay(config(other)))!;
  expect(r.level).toBe("fail");
  expect(`${r.detail} ${r.fix}`).not.toMatch(/set \[tunnel\] ca_file/);
  expect(r.fix).toContain(`[tunnel] ca_file (${other})`);
  expect((await checkRelay(config(join(dir, "missing.pem"))))!.detail).toContain("cannot read tunnel.ca_file");
  // doctor's probe is verified as the tunnel is, whatever NODE_TLS_REJECT_UNAUTHORIZED says.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
  try {
    expect((await checkRelay(config("")))!.level).toBe("fail");
  } finally {
    delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  }
});
