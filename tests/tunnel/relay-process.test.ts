// The relay process's endings: a SIGHUP (systemctl reload, a closed terminal) does not end it; a start that cannot
// happen exits 1 with one sentence naming the setting (2 for a config file it cannot read); a Redis it cannot reach is
// named with the cause.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../bench/lib/proc.ts";
import { BUN, REPO } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { until } from "../helpers/until.ts";
import { clusterNodeToml, writeClusterSecret } from "../relay/cluster-helpers.ts";
import { cleanup, relayToml, startRelayProc } from "./helpers.ts";

setDefaultTimeout(30_000);
const dir = mkdtempSync(join(tmpdir(), "c2l-relay-process-"));
afterAll(() => cleanup(dir));

/** Runs the relay on `toml` until it exits by itself (killed after 10 s: a relay that keeps running is the failure). */
async function start(toml: string): Promise<{ code: number | null; err: string }> {
  const file = join(mkdtempSync(join(dir, "run-")), "relay.toml");
  await Bun.write(file, toml);
  const p = Bun.spawn([BUN, join(REPO, "src/main.ts"), "relay", "--config", file], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), 10_000);
  const err = await new Response(p.stderr).text();
  await p.exited;
  clearTimeout(timer);
  return { code: p.exitCode, err };
}

/** Lines that are not log lines ("2026-…Z info relay: ..."): what the CLI itself said. */
const said = (err: string) => err.split("\n").filter((l) => l.trim() && !/^\d{4}-\d\d-\d\dT[\d:.]+Z \w+ [\w.-]+: /.test(l));

test("SIGHUP (systemctl reload, a closed terminal) leaves a running relay up: one line says it was ignored", async () => {
  const relay = await startRelayProc(relayToml(), mkdtempSync(join(dir, "hup-")));
  try {
    relay.proc.kill("SIGHUP");
    await relay.waitFor(/warn relay: SIGHUP ignored: the relay does not re-read its config; restart it to apply changes/, 5_000);
    await Bun.sleep(200);
    expect(relay.proc.exitCode).toBeNull();
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
  } finally {
    await relay.stop();
  }
});

test("a port already in use: exit 1 with one sentence naming the setting, listen or [cluster] internal_listen", async () => {
  const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("someone else") });
  try {
    const taken = `127.0.0.1:${holder.port}`;
    const alone = await start(relayToml({ listen: taken }));
    expect(alone.code).toBe(1);
    expect(said(alone.err)).toEqual([
      `cloudtolocalllm-tunnel relay: the relay cannot start: it cannot listen on ${taken} (listen): port ${holder.port} is already in use (by another program, or another copy of the relay)`,
    ]);
    const secretFile = writeClusterSecret(dir);
    const node = (listen: string, internal: string, file = secretFile) => clusterNodeToml({ redisUrl: "redis://127.0.0.1:1/0", id: "n1", listen, internal, secretFile: file });
    const internal = await start(node(`127.0.0.1:${await freePort()}`, taken));
    expect(internal.code).toBe(1);
    expect(said(internal.err)).toEqual([
      `cloudtolocalllm-tunnel relay: the relay cannot start: its internal listener cannot listen on ${taken} ([cluster] internal_listen): port ${holder.port} is already in use (by another program, or another copy of the relay)`,
    ]);
    const nosecret = await start(node(`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`, join(dir, "no-such.secret")));
    expect(nosecret.code).toBe(1);
    expect(said(nosecret.err)).toHaveLength(1);
    expect(said(nosecret.err)[0]).toMatch(/^cloudtolocalllm-tunnel relay: the relay cannot start: cluster\.shared_secret_file: ENOENT.*no-such\.secret/);
  } finally {
    holder.stop(true);
  }
});

test("[tls] files that are missing or not PEM are named by their setting at start and by `relay check`, not as a listener that failed", async () => {
  const missing = join(dir, "no-such.pem");
  const garbage = join(dir, "garbage.pem");
  await Bun.write(garbage, "not a certificate\n");
  const at = `127.0.0.1:${await freePort()}`;
  const started = await start(relayToml({ listen: at, tls: { cert: missing, key: missing } }));
  expect(started.code).toBe(1);
  expect(said(started.err)).toEqual([expect.stringMatching(new RegExp(`^cloudtolocalllm-tunnel relay: the relay cannot start: tls\\.cert_file: cannot read ${missing}: ENOENT`))]);
  const file = join(mkdtempSync(join(dir, "check-")), "relay.toml");
  await Bun.write(file, relayToml({ listen: at, tls: { cert: missing, key: missing } }));
  const checked = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "relay", "check", "--config", file], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  expect(checked.exitCode).toBe(1);
  expect(checked.stderr.toString()).toMatch(/tls\.cert_file: cannot read .*no-such\.pem: ENOENT/);
  const bad = await start(relayToml({ listen: at, tls: { cert: garbage, key: garbage } }));
  expect(bad.code).toBe(1);
  expect(said(bad.err)).toEqual([expect.stringMatching(/^cloudtolocalllm-tunnel relay: the relay cannot start: \[tls\]: .*garbage\.pem and .*garbage\.pem are not a usable certificate and key: .*PEM/)]);
});

requireTools(["openssl"]).test("`relay check` refuses what the start or every agent would: a key of another certificate, an expired certificate; a good pair is ok", async () => {
  const d = mkdtempSync(join(dir, "pki-"));
  const sh = (...cmd: string[]) => {
    const r = Bun.spawnSync(cmd, { cwd: d, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  };
  sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=c2l test CA");
  sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "relay.key", "-out", "relay.csr", "-subj", "/CN=localhost");
  sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.csr", "-subj", "/CN=other");
  sh("openssl", "x509", "-req", "-in", "relay.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "relay.pem", "-days", "2");
  // One that expired in 2020 (openssl ca takes explicit dates).
  await Bun.write(join(d, "index.txt"), "");
  await Bun.write(join(d, "serial"), "01\n");
  await Bun.write(join(d, "ca.cnf"), "[ca]\ndefault_ca = c\n[c]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n");
  sh("openssl", "ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "relay.csr", "-out", "expired.pem", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-notext");
  const check = async (cert: string, key: string) => {
    const file = join(mkdtempSync(join(dir, "check-")), "relay.toml");
    await Bun.write(file, relayToml({ tls: { cert: join(d, cert), key: join(d, key) } }));
    const p = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "relay", "check", "--config", file], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    return { code: p.exitCode, out: p.stdout.toString() + p.stderr.toString() };
  };
  const mismatch = await check("relay.pem", "other.key");
  expect(mismatch.code).toBe(1);
  expect(mismatch.out).toMatch(/\[tls\]: .*relay\.pem and .*other\.key are not a usable certificate and key: .*KEY_VALUES_MISMATCH/);
  // The start says the same.
  const started = await start(relayToml({ listen: `127.0.0.1:${await freePort()}`, tls: { cert: join(d, "relay.pem"), key: join(d, "other.key") } }));
  expect(started.code).toBe(1);
  expect(said(started.err)[0]).toMatch(/the relay cannot start: \[tls\]: .*relay\.pem and .*other\.key are not a usable certificate and key: .*KEY_VALUES_MISMATCH/);
  const expired = await check("expired.pem", "relay.key");
  expect(expired.code).toBe(1);
  expect(expired.out).toMatch(/tls\.cert_file: the certificate in .*expired\.pem expired on 2020-01-02T00:00:00\.000Z: agents and clients refuse it \(renew it, then restart the relay\)/);
  const good = await check("relay.pem", "relay.key");
  expect(good).toMatchObject({ code: 0, out: expect.stringMatching(/: ok \(1 tunnel\)/) });
});

test("a config file that cannot be read or is missing: exit 2 (restarting cannot fix it), naming the file and why", async () => {
  const missing = join(dir, "no-such-relay.toml");
  for (const [file, why] of [
    [missing, "it does not exist (ENOENT)"],
    [dir, "it is a directory, not a file (EISDIR)"],
  ] as const) {
    const p = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), "relay", "--config", file], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    expect(p.exitCode).toBe(2);
    expect(said(p.stderr.toString())).toEqual([`cloudtolocalllm-tunnel relay: cannot read ${file}: ${why} [usage]`]);
  }
});

test("a cluster node whose Redis name does not resolve says so in /readyz and its log, not only that a connection closed", async () => {
  const listen = `127.0.0.1:${await freePort()}`;
  const toml = clusterNodeToml({ redisUrl: "redis://:hunter2-secret@no-such-host.invalid:6379/0", id: "n1", listen, internal: `127.0.0.1:${await freePort()}`, secretFile: writeClusterSecret(dir, "dns.secret") });
  const relay = await startRelayProc(toml, mkdtempSync(join(dir, "dns-")));
  try {
    const ready = await until(async () => {
      // Not ready (it has not reached Redis since it started): the report is in the error's details.
      type Report = { cluster: { redis: string; reason?: string } };
      const body = (await (await fetch(`${relay.url}/readyz`)).json()) as Report & { error?: { details: Report } };
      const r = body.error?.details ?? body;
      return r.cluster.reason?.startsWith("cannot reach Redis at") ? r.cluster : null;
    }, 10_000, "/readyz to name why Redis is down");
    expect(ready.redis).toBe("down");
    expect(ready.reason).toMatch(/^cannot reach Redis at no-such-host\.invalid:6379: .*\(DNS\)/);
    expect(relay.stderr()).toMatch(/redis="down \(cannot reach Redis at no-such-host\.invalid:6379: .*DNS/);
    expect(relay.stderr()).not.toContain("hunter2");
  } finally {
    await relay.stop();
  }
});

test("a flood of refused agent connections is one log line per reason per window; the metric counts every one", async () => {
  const relay = await startRelayProc(relayToml(), mkdtempSync(join(dir, "flood-")));
  try {
    const agent = `${relay.url}/agent`;
    for (let batch = 0; batch < 10; batch++)
      await Promise.all(Array.from({ length: 30 }, () => fetch(agent, { headers: { authorization: "Bearer not-a-token-of-any-tunnel" } }).then((r) => r.arrayBuffer())));
    await fetch(agent).then((r) => r.arrayBuffer()); // another reason: no credential at all
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).toMatch(/cloudtolocalllm_relay_agent_connections_total\{result="unauthorized"\} 301\b/);
    await Bun.sleep(200);
    const lines = relay.stderr().split("\n").filter((l) => l.includes("agent refused"));
    expect(lines).toHaveLength(2);
  } finally {
    await relay.stop();
  }
});
