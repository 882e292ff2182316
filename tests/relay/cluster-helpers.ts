// Test helpers for the relay cluster: N real relay processes on one Redis, each with its internal listener, and
// HAProxy (round robin, health-checked on /readyz) in front, as docs/relay-cluster.md deploys them.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nginxPrelude } from "../../bench/lib/peers.ts";
import { freePort } from "../../bench/lib/proc.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { readSharedSecret } from "../../src/relay/cluster/cluster.ts";
import { clusterKeys, clusterPrefix, type ClusterKeys } from "../../src/relay/cluster/cluster-keys.ts";
import { REPO } from "../helpers/daemon.ts";
import { spawnLogged, type LoggedProc } from "../helpers/process.ts";
import { ADMIN_TOKEN, AGENT_TOKEN, CLIENT_KEY, TUNNEL_ID, cleanup, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

export const BOB_TOKEN = "bob-agent-token-for-tests-012345";
export const BOB_KEY = "bob-client-key-for-tests-0123456";

export interface ClusterNode extends RelayProc {
  id: string;
  internalUrl: string;
  toml: string;
}

export interface TestCluster {
  nodes: ClusterNode[];
  secretFile: string;
  /** Starts node i again with its own config (same ports), after a kill or stop. */
  restart(i: number): Promise<ClusterNode>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  redisUrl: string;
  size?: number;
  requestsPerMinute?: number;
  leaseTtl?: string;
  nodeTtl?: string;
  goAwayGrace?: string;
  /** [cluster] redis_timeout of every node (default 500ms). */
  redisTimeout?: string;
  /** resume_window of every node (default: the relay's, 60 s). */
  resumeWindow?: string;
  /** A node's advertise_url (e.g. a recording proxy in front of its internal listener); default: none. */
  advertiseUrl?: (id: string, internal: string) => string | undefined;
  /** A node's own redis_url (e.g. through a proxy that can cut it off); default: redisUrl. */
  redisUrlFor?: (id: string) => string;
  /** The nodes' [heartbeat] interval and tolerance with their agents (default 300ms, 1200ms). */
  heartbeat?: [string, string];
  /** More [cluster] lines (e.g. redis_ca_file). */
  clusterExtra?: string;
  /** [limits] requests_per_minute_per_client of every node (default 0: requests_per_minute less a quarter). */
  clientRequestsPerMinute?: number;
  /** The client keys of tunnel alice (default: CLIENT_KEY). */
  clientKeys?: string[];
  /** [limits] max_streams of every node (default 512). */
  maxStreams?: number;
  /** More TOML at the end of every node's config (e.g. [oidc] and more [[tunnels]]). */
  extra?: string;
  /** The address every node's internal listener binds (default 127.0.0.1; another 127.x is not "loopback" to NO_PROXY). */
  internalHost?: string;
  /** More environment for every node's process (e.g. HTTP_PROXY). */
  env?: Record<string, string>;
}

export function clusterNodeToml(o: ClusterOptions & { id: string; listen: string; internal: string; secretFile: string }): string {
  return `listen = "${o.listen}"
admin_token_sha256 = "${hashToken(ADMIN_TOKEN)}"
first_byte_timeout = "5s"
go_away_grace = "${o.goAwayGrace ?? "5s"}"
${o.resumeWindow ? `resume_window = "${o.resumeWindow}"\n` : ""}
[cluster]
redis_url = "${o.redisUrlFor?.(o.id) ?? o.redisUrl}"
node_id = "${o.id}"
internal_listen = "${o.internal}"
${o.advertiseUrl?.(o.id, o.internal) ? `advertise_url = "${o.advertiseUrl(o.id, o.internal)}"\n` : ""}shared_secret_file = "${o.secretFile}"
lease_ttl = "${o.leaseTtl ?? "3s"}"
node_ttl = "${o.nodeTtl ?? "1500ms"}"
redis_timeout = "${o.redisTimeout ?? "500ms"}"
${o.clusterExtra ?? ""}

[heartbeat]
interval = "${o.heartbeat?.[0] ?? "300ms"}"
tolerance = "${o.heartbeat?.[1] ?? "1200ms"}"

[limits]
max_streams = ${o.maxStreams ?? 512}
requests_per_minute = ${o.requestsPerMinute ?? 100000}
requests_per_minute_per_client = ${o.clientRequestsPerMinute ?? 0}
max_body_bytes = 2000000000

[[tunnels]]
id = "${TUNNEL_ID}"
agent_token_sha256 = "${hashToken(AGENT_TOKEN)}"
client_key_sha256 = [${(o.clientKeys ?? [CLIENT_KEY]).map((k) => `"${hashToken(k)}"`).join(", ")}]

[[tunnels]]
id = "bob"
agent_token_sha256 = "${hashToken(BOB_TOKEN)}"
client_key_sha256 = ["${hashToken(BOB_KEY)}"]
${o.extra ?? ""}`;
}

/** A fresh cluster secret file (mode 600) in `dir`. */
export function writeClusterSecret(dir: string, name = "cluster.secret"): string {
  const file = join(dir, name);
  writeFileSync(file, crypto.getRandomValues(new Uint8Array(48)).toBase64() + "\n", { mode: 0o600 });
  return file;
}

/** One node outside startCluster (e.g. with another secret), on fresh ports. */
export async function startClusterNode(o: ClusterOptions & { id: string; secretFile: string; dir: string }): Promise<ClusterNode> {
  const listen = `127.0.0.1:${await freePort()}`;
  const internal = `127.0.0.1:${await freePort()}`;
  const toml = clusterNodeToml({ ...o, listen, internal });
  const p = await startRelayProc(toml, mkdtempSync(join(o.dir, `${o.id}-`)));
  await p.waitFor(/relay cluster node/, 10_000);
  return { ...p, id: o.id, internalUrl: `http://${internal}`, toml };
}

export async function startCluster(o: ClusterOptions): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-cluster-"));
  const secretFile = writeClusterSecret(dir);
  const size = o.size ?? 3;
  const specs = await Promise.all(
    Array.from({ length: size }, async (_, i) => {
      const id = `n${i + 1}`;
      const listen = `127.0.0.1:${await freePort()}`;
      const internal = `${o.internalHost ?? "127.0.0.1"}:${await freePort()}`;
      const nodeDir = mkdtempSync(join(dir, `${id}-`));
      return { id, internal, nodeDir, toml: clusterNodeToml({ ...o, id, listen, internal, secretFile }) };
    }),
  );
  const start = async (i: number): Promise<ClusterNode> => {
    const s = specs[i]!;
    const p = await startRelayProc(s.toml, s.nodeDir, [], undefined, o.env);
    await p.waitFor(/relay cluster node/, 10_000);
    return { ...p, id: s.id, internalUrl: `http://${s.internal}`, toml: s.toml };
  };
  // A node that fails to start must not leave the others running (a process the test never stops).
  const started = await Promise.allSettled(specs.map((_, i) => start(i)));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await Promise.all(started.map((r) => (r.status === "fulfilled" ? r.value.stop("SIGKILL") : undefined)));
    cleanup(dir);
    throw failed.reason;
  }
  const nodes = started.map((r) => (r as PromiseFulfilledResult<ClusterNode>).value);
  return {
    nodes,
    secretFile,
    async restart(i) {
      nodes[i] = await start(i);
      return nodes[i]!;
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
      cleanup(dir);
    },
  };
}

/** The keys and Redis keyspace the test cluster's nodes derive from its secret (to write records as a node would). */
export function clusterRedisKeys(c: { secretFile: string }): { keys: ClusterKeys; prefix: string } {
  const keys = clusterKeys(readSharedSecret(c.secretFile));
  return { keys, prefix: clusterPrefix(keys) };
}

/** A reverse proxy the tests started (HAProxy, nginx) and the URL clients call. */
/** One redis-cli command against the test Redis listening on `port`: its output, trimmed. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const p = Bun.spawn(["redis-cli", "-p", String(port), ...args], { stdout: "pipe", stderr: "pipe" });
  const out = (await new Response(p.stdout).text()).trim();
  await p.exited;
  return out;
}

/** The node tunnel `id`'s lease in Redis names, or null while nobody holds it. */
export async function leaseHolder(port: number, c: { secretFile: string }, id = TUNNEL_ID): Promise<string | null> {
  return (await redisCli(port, "HGET", `${clusterRedisKeys(c).prefix}:lease:${id}`, "node")) || null;
}

export interface TestProxy extends LoggedProc {
  url: string;
  port: number;
}
export type TestHaproxy = TestProxy;

/** A fenced block of docs/relay-cluster.md by its language tag: what the tests run is what the docs say. */
export function docBlock(lang: string): string {
  const md = readFileSync(join(REPO, "docs/relay-cluster.md"), "utf8");
  const m = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(md);
  if (!m) throw new Error(`docs/relay-cluster.md has no \`\`\`${lang} block`);
  return m[1]!;
}

/**
 * The docs' HAProxy example with its bind and server lines pointed at this test's port and nodes; `checks` replaces
 * the example's default-server line (e.g. faster health checks for a churn test).
 */
export function haproxyConfigFromDocs(port: number, nodes: { port: number }[], checks?: string, tlsPem?: string): string {
  const lines = docBlock("haproxy").split("\n");
  const servers = lines.filter((l) => /^\s*server relay\d/.test(l));
  if (servers.length !== 3 || !lines.some((l) => /^\s*bind /.test(l))) throw new Error("the docs' HAProxy example changed shape: update this helper");
  const out: string[] = [];
  for (const l of lines) {
    // With tlsPem, the docs' own TLS words on the bind line, with the test's certificate file.
    if (/^\s*bind /.test(l)) out.push(tlsPem ? l.replace(/bind :443 /, `bind 127.0.0.1:${port} `).replace(/ crt \S+/, ` crt ${tlsPem}`) : `  bind 127.0.0.1:${port}`);
    // The example's maxconn needs a raised file limit (the packaged haproxy.service has one); a test shell may not.
    else if (/^\s*maxconn /.test(l)) out.push("  maxconn 2000");
    else if (checks && /^\s*default-server /.test(l)) out.push(`  default-server ${checks}`);
    else if (l === servers[0]) out.push(...nodes.map((n, i) => `  server relay${i + 1} 127.0.0.1:${n.port} check`));
    else if (!servers.includes(l)) out.push(l);
  }
  return out.join("\n");
}

/**
 * HAProxy with the docs' example in front of the nodes (`edit` changes its text; `tlsPem`, certificate and key in one
 * file, keeps the example's TLS bind, `ca` trusting it): round robin per request, upgrades passed, dead nodes skipped.
 */
export async function startHaproxy(nodes: { port: number }[], checks?: string, o: { edit?: (cfg: string) => string; tlsPem?: string; ca?: string } = {}): Promise<TestHaproxy> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-haproxy-"));
  const port = await freePort();
  const cfg = join(dir, "haproxy.cfg");
  const text = (o.edit ?? ((c) => c))(haproxyConfigFromDocs(port, nodes, checks, o.tlsPem));
  if (checks && !text.includes(`default-server ${checks}`)) throw new Error("the docs' HAProxy example has no default-server line: update this helper");
  writeFileSync(cfg, text);
  const p = spawnLogged(["haproxy", "-db", "-f", cfg], { env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/bin" }, label: "haproxy", debugEnv: "DEBUG_HAPROXY" });
  const url = `${o.tlsPem ? "https" : "http"}://127.0.0.1:${port}`;
  const t0 = performance.now();
  for (;;) {
    try {
      const r = await fetch(`${url}/healthz`, o.ca ? { tls: { ca: o.ca } } : {});
      if (r.status === 200) break;
    } catch {}
    if (p.proc.exitCode !== null) throw new Error(`haproxy exited: ${p.stderr()}`);
    if (performance.now() - t0 > 10_000) throw new Error(`haproxy did not answer: ${p.stderr()}`);
    await Bun.sleep(50);
  }
  return {
    ...p,
    url,
    port,
    async stop(signal = "SIGTERM") {
      const r = await p.stop(signal);
      cleanup(dir);
      return r;
    },
  };
}

/**
 * The docs' nginx example with its upstream servers, listen and TLS lines pointed at this test's port and nodes;
 * `upstreamExtra` adds lines to the upstream block; `tls` keeps the example's TLS lines with the test's files.
 */
export function nginxConfigFromDocs(dir: string, port: number, nodes: { port: number }[], upstreamExtra = "", tls?: { cert: string; key: string }): string {
  const servers = docBlock("nginx")
    .replace(/^\s*server 10\.0\.0\.11:8080(.*)$/m, (_, rest) => nodes.map((n) => `  server 127.0.0.1:${n.port}${rest}`).join("\n") + (upstreamExtra ? `\n  ${upstreamExtra}` : ""))
    .replace(/^\s*server 10\.0\.0\.1\d:8080.*\n/gm, "");
  const block = tls
    ? servers
        .replace(/listen 443 ssl;/, `listen 127.0.0.1:${port} ssl;`)
        .replace(/ssl_certificate \S+;/, `ssl_certificate ${tls.cert};`)
        .replace(/ssl_certificate_key \S+;/, `ssl_certificate_key ${tls.key};`)
    : servers.replace(/listen 443 ssl;/, `listen 127.0.0.1:${port};`).replace(/^\s*ssl_certificate.*\n/gm, "");
  if (!nodes.every((n) => block.includes(`127.0.0.1:${n.port}`))) throw new Error("the docs' nginx example changed shape: update this helper");
  return `${nginxPrelude(dir)}\n${block}\n}\n`;
}

/** nginx with the docs' example in front of the nodes (HTTP on loopback, the example's TLS lines dropped; or with `tls`, its TLS lines on the test's files; `edit` changes its text). */
export async function startNginx(nodes: { port: number }[], upstreamExtra = "", tls?: { cert: string; key: string; ca: string }, edit: (cfg: string) => string = (c) => c): Promise<TestProxy> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-nginx-"));
  const port = await freePort();
  writeFileSync(join(dir, "nginx.conf"), edit(nginxConfigFromDocs(dir, port, nodes, upstreamExtra, tls)));
  const p = spawnLogged(["nginx", "-p", dir, "-c", join(dir, "nginx.conf")], { env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/bin" }, label: "nginx", debugEnv: "DEBUG_NGINX" });
  const url = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
  const t0 = performance.now();
  while ((await fetch(`${url}/healthz`, tls ? { tls: { ca: tls.ca } } : {}).then((r) => r.status).catch(() => 0)) !== 200) {
    if (p.proc.exitCode !== null) throw new Error(`nginx exited: ${p.stderr()}`);
    if (performance.now() - t0 > 10_000) throw new Error(`nginx did not answer: ${p.stderr()}`);
    await Bun.sleep(50);
  }
  return {
    ...p,
    url,
    port,
    async stop() {
      // SIGQUIT: nginx's graceful stop (SIGTERM is its fast one; either ends the test's workers).
      const r = await p.stop("SIGQUIT");
      cleanup(dir);
      return r;
    },
  };
}
