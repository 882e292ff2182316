// docs/relay-cluster.md is what runs: its TOML example parses, the cluster settings' rules and the shared secret's
// checks hold, and its nginx example (addresses swapped for the test's) carries an agent's WebSocket and a streamed call
// to a two-node cluster. (Its HAProxy example runs in tests/relay/cluster.e2e.test.ts.)
import { expect, test as plainTest } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRelayConfig, formatIssue } from "../../src/relay/config.ts";
import { readSharedSecret } from "../../src/relay/cluster/cluster.ts";
import { serveStream } from "../../src/protocol/http-over-stream.ts";
import { connect } from "../../src/tunnel/connector.ts";
import { BUN, REPO } from "../helpers/daemon.ts";
import { requireTools } from "../helpers/requires.ts";
import { startRedis } from "../helpers/redis.ts";
import { BOB_KEY, BOB_TOKEN, docBlock, startCluster, startNginx } from "./cluster-helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "c2l-cluster-docs-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

plainTest("the docs' relay.toml parses; the cluster's own rules name the field that is wrong", () => {
  const doc = docBlock("toml");
  const r = parseRelayConfig(doc, "relay.toml");
  expect(r.ok ? "ok" : r.issues.map(formatIssue).join("\n")).toBe("ok");
  const issues = (text: string) => {
    const x = parseRelayConfig(text, "relay.toml");
    return x.ok ? "ok" : x.issues.map(formatIssue).join("\n");
  };
  expect(issues(doc.replace(/^shared_secret_file = .*$/m, ""))).toMatch(/cluster\.shared_secret_file: a cluster needs a shared secret file/);
  expect(issues(doc.replace(/^internal_listen = .*$/m, 'internal_listen = "0.0.0.0:8081"').replace(/^advertise_url = .*$/m, ""))).toMatch(/cluster\.advertise_url: internal_listen "0\.0\.0\.0:8081" is a wildcard address/);
  expect(issues(doc.replace(/^redis_url = .*$/m, 'redis_url = "http://user:hunter2@10.0.0.5"'))).toMatch(/cluster\.redis_url: .* must be a redis:\/\/ or rediss:\/\/ URL/);
  expect(issues(doc.replace(/^redis_url = .*$/m, 'redis_url = "http://user:hunter2@10.0.0.5"'))).not.toContain("hunter2");
  expect(issues(doc.replace(/^lease_ttl = .*$/m, 'lease_ttl = "200ms"'))).toMatch(/cluster\.lease_ttl: "200ms" is too short/);
  // The docs' TLS Redis lines are valid [cluster] settings.
  const tlsLines = /```toml\n( *# \[cluster\] lines for a TLS Redis[\s\S]*?)```/.exec(readFileSync(join(REPO, "docs/relay-cluster.md"), "utf8"))![1]!.replace(/^ +/gm, "");
  expect(issues(doc.replace(/^redis_url = .*$/m, tlsLines))).toBe("ok");
  // Redis TLS files belong to a rediss:// URL; a client certificate needs its key.
  expect(issues(doc.replace(/^redis_url = .*$/m, 'redis_url = "redis://10.0.0.5:6379/0"\nredis_ca_file = "/etc/ssl/redis-ca.pem"'))).toMatch(/cluster\.redis_ca_file: is only used with a TLS Redis URL \(rediss:\/\/\)/);
  expect(issues(doc.replace(/^redis_url = .*$/m, 'redis_url = "rediss://10.0.0.5:6380/0"\nredis_cert_file = "/etc/ssl/relay.pem"'))).toMatch(/cluster\.redis_key_file: a Redis client certificate needs both/);
});

plainTest("the shared secret: at least 32 bytes, never readable by group or others; a relay without one does not start", async () => {
  const f = join(tmp, "secret");
  writeFileSync(f, "short\n", { mode: 0o600 });
  expect(() => readSharedSecret(f)).toThrow(/holds 5 bytes; the cluster secret needs at least 32/);
  writeFileSync(f, "x".repeat(40) + "\n");
  chmodSync(f, 0o640);
  expect(() => readSharedSecret(f)).toThrow(/readable by group or others \(mode 640\); chmod 600 it/);
  chmodSync(f, 0o600);
  expect(new TextDecoder().decode(readSharedSecret(f))).toBe("x".repeat(40));
  const cfg = join(tmp, "relay.toml");
  writeFileSync(cfg, `listen = "127.0.0.1:0"\n[cluster]\nredis_url = "redis://127.0.0.1:1/0"\ninternal_listen = "127.0.0.1:0"\nshared_secret_file = "${join(tmp, "missing")}"\n`);
  const run = async (...args: string[]) => {
    const p = Bun.spawn([BUN, join(REPO, "src/main.ts"), "relay", ...args, "--config", cfg], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp } });
    return { code: await p.exited, err: await new Response(p.stderr).text(), out: await new Response(p.stdout).text() };
  };
  const started = await run();
  expect(started.code).not.toBe(0);
  expect(started.err).toMatch(/the relay cannot start: .*missing/);
  const checked = await run("check");
  expect(checked.code).not.toBe(0);
  expect(checked.err).toMatch(/cluster\.shared_secret_file: .*missing/);
  writeFileSync(cfg, `listen = "127.0.0.1:0"\n[cluster]\nredis_url = "redis://127.0.0.1:1/0"\ninternal_listen = "127.0.0.1:0"\nshared_secret_file = "${f}"\n`);
  const ok = await run("check");
  expect(ok.out).toMatch(/ok \(0 tunnels, cluster node\)/);
  expect(ok.code).toBe(0);
});

plainTest("`relay check` refuses a redis_url with a port past 65535, or that does not parse, naming what is wrong and never its password", async () => {
  const secret = join(tmp, "check-secret");
  writeFileSync(secret, "y".repeat(40), { mode: 0o600 });
  const cfg = join(tmp, "check.toml");
  const check = async (url: string) => {
    writeFileSync(cfg, `listen = "127.0.0.1:0"\n[cluster]\nredis_url = "${url}"\ninternal_listen = "127.0.0.1:0"\nshared_secret_file = "${secret}"\n`);
    const p = Bun.spawn([BUN, join(REPO, "src/main.ts"), "relay", "check", "--config", cfg], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp } });
    return { code: await p.exited, said: (await new Response(p.stdout).text()) + (await new Response(p.stderr).text()) };
  };
  // Before: both were "ok (0 tunnels, cluster node)", and the relay then failed to start on them.
  const port = await check("redis://:hunter2pass@10.0.0.5:99999/0");
  expect(port.said).toContain(`cluster.redis_url: "redis://redacted@10.0.0.5:99999/0": port 99999 is not a TCP port (1 to 65535)`);
  expect(port.code).toBe(2);
  const unparsed = await check("redis://:hunter2pass@redis host:6379/0");
  expect(unparsed.said).toContain(`cluster.redis_url: "redis://redacted@redis host:6379/0" does not parse as a URL`);
  expect(unparsed.code).toBe(2);
  const noUrl = await check("hunter2pass");
  expect(noUrl.said).toContain("cluster.redis_url: is not a URL");
  for (const r of [port, unparsed, noUrl]) expect(r.said).not.toContain("hunter2");
});

requireTools(["redis-server", "nginx"]).test("the docs' nginx example in front of the nodes carries an agent's WebSocket and a streamed call", async () => {
  const redis = await startRedis();
  const cluster = await startCluster({ redisUrl: redis.url.replace(/\/0$/, "/2"), size: 2 });
  const nginx = await startNginx(cluster.nodes);
  const url = nginx.url;
  try {
    // An agent through nginx (the upgrade passes); it streams ten lines 100 ms apart.
    const agent = await connect({
      url: `${url.replace(/^http/, "ws")}/agent`,
      token: BOB_TOKEN,
      agent: "nginx-test",
      heartbeatMs: 1000,
      toleranceMs: 3000,
      maxStreams: 64,
      onStream: (s) =>
        void serveStream(s, async () => {
          let i = 0;
          const body = new ReadableStream<Uint8Array>({
            async pull(c) {
              if (i === 10) return c.close();
              await Bun.sleep(100);
              c.enqueue(new TextEncoder().encode(`{"line":${i++}}\n`));
            },
          });
          return new Response(body, { headers: { "content-type": "application/x-ndjson" } });
        }),
    });
    try {
      const entries = new Set<string>();
      for (let k = 0; k < 2; k++) {
        const t = performance.now();
        const res = await fetch(`${url}/t/bob/api/generate`, { method: "POST", headers: { Authorization: `Bearer ${BOB_KEY}` }, body: "{}" });
        expect(res.status).toBe(200);
        entries.add(res.headers.get("x-c2l-relay-node")!);
        const reader = res.body!.getReader();
        const first = await reader.read();
        // The first line arrives long before the last is written: nothing on the way buffers the stream.
        expect(new TextDecoder().decode(first.value)).toStartWith('{"line":0}');
        expect(performance.now() - t).toBeLessThan(800);
        let rest = "";
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          rest += new TextDecoder().decode(value);
        }
        expect(rest.trim().split("\n").at(-1)).toBe('{"line":9}');
      }
      // nginx's round robin sent the two calls to both nodes; one of them forwarded to the other.
      expect(entries.size).toBe(2);
    } finally {
      agent.close("test over");
    }
  } finally {
    await nginx.stop();
    await cluster.stop();
    await redis.stop();
  }
}, 60_000);
