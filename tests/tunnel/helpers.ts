// Test helpers for the tunnel: a real relay process, a daemon with the tunnel on, RSS readings, a blackholing TCP proxy.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, REPO, TEST_DAEMON_TOML, removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { spawnLogged, type LoggedProc } from "../helpers/process.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { RUNTIME_ENV } from "../../src/core/runtime-tuning.ts";

export const AGENT_TOKEN = "agent-token-for-tests-0123456789";
export const CLIENT_KEY = "client-key-for-tests-0123456789";
export const ADMIN_TOKEN = "admin-token-for-tests-0123456789";
export const TUNNEL_ID = "alice";

export interface RelayProc extends LoggedProc {
  url: string;
  port: number;
  dir: string;
  configFile: string;
}

export function relayToml(opts: { listen?: string; extra?: string; limits?: string; tls?: { cert: string; key: string } } = {}): string {
  return `listen = "${opts.listen ?? "127.0.0.1:0"}"
admin_token_sha256 = "${hashToken(ADMIN_TOKEN)}"
first_byte_timeout = "5s"
${opts.extra ?? ""}
[heartbeat]
interval = "300ms"
tolerance = "1200ms"

[limits]
max_streams = 512
requests_per_minute = 100000
max_body_bytes = 2000000000
${opts.limits ?? ""}
${opts.tls ? `[tls]\ncert_file = "${opts.tls.cert}"\nkey_file = "${opts.tls.key}"\n` : ""}
[[tunnels]]
id = "${TUNNEL_ID}"
agent_token_sha256 = "${hashToken(AGENT_TOKEN)}"
client_key_sha256 = ["${hashToken(CLIENT_KEY)}"]
`;
}

/** Starts `bun src/main.ts relay --config FILE` (or another release's main.ts) and waits for its listening line. */
export async function startRelayProc(toml: string, dir = mkdtempSync(join(tmpdir(), "c2l-relay-")), bunArgs: string[] = [], main = join(REPO, "src/main.ts"), env: Record<string, string> = {}): Promise<RelayProc> {
  const configFile = join(dir, "relay.toml");
  writeFileSync(configFile, toml, { mode: 0o600 });
  const p = spawnLogged([BUN, ...bunArgs, main, "relay", "--config", configFile], {
    env: { ...RUNTIME_ENV, PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, ...env },
    cwd: dir,
    label: "relay",
    debugEnv: "DEBUG_RELAY",
  });
  const line = await p.waitFor(/relay: .*listening.* url=/);
  const url = /url=(\S+)/.exec(line)![1]!;
  return { ...p, url, port: Number(new URL(url).port), dir, configFile };
}

export function daemonToml(o: { upstream: string; relayUrl: string; tunnel?: string; heartbeat?: [string, string]; backoff?: [string, string] }): string {
  const [hi, ht] = o.heartbeat ?? ["300ms", "1200ms"];
  const [bi, bm] = o.backoff ?? ["100ms", "400ms"];
  return `${TEST_DAEMON_TOML}[[upstreams]]
name = "fake"
url = "${o.upstream}"
[tunnel]
enabled = true
relay_url = "${o.relayUrl}"
${o.tunnel ?? ""}
[tunnel.backoff]
initial = "${bi}"
max = "${bm}"
[tunnel.heartbeat]
interval = "${hi}"
tolerance = "${ht}"
`;
}

export async function startAgentDaemon(toml: string, env: Record<string, string> = {}, waitConnected = true, bunArgs: string[] = []): Promise<DaemonProc> {
  const d = await startDaemon({ config: toml, env: { CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN: AGENT_TOKEN, ...env }, waitFor: ["api"], bunArgs });
  if (waitConnected) await d.waitFor(/tunnel: connected to the relay/, 15_000);
  return d;
}

/** A request body of `total` bytes produced on demand (never held in memory as a whole). */
export function generatedBody(total: number, chunkSize = 256 * 1024): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(chunkSize).fill(7);
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent >= total) return c.close();
      const n = Math.min(chunkSize, total - sent);
      c.enqueue(n === chunkSize ? chunk : chunk.subarray(0, n));
      sent += n;
    },
  });
}

/** How a response body being read ends within `ms`: "ended" (cleanly), "error: <message>", or "hung". */
export function bodyOutcome(reader: ReadableStreamDefaultReader<Uint8Array>, ms = 5_000): Promise<string> {
  return Promise.race([
    (async () => {
      try {
        while (!(await reader.read()).done);
        return "ended";
      } catch (e) {
        return `error: ${(e as Error).message}`;
      }
    })(),
    Bun.sleep(ms).then(() => "hung"),
  ]);
}

/** Peak and current resident memory of a process, in MiB (Linux /proc). */
export function rssMiB(pid: number): { hwm: number; rss: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0);
  return { hwm: kb("VmHWM") / 1024, rss: kb("VmRSS") / 1024 };
}

/**
 * A loopback TCP proxy that can start blackholing: bytes are swallowed, connections stay open (a half-open path).
 * blackhole() does it to every connection, now and later; cut() only to the ones open now (the agent's next connection
 * goes through: a link lost and another found).
 */
export async function startBlackholeProxy(target: { host: string; port: number }) {
  let blackhole = false;
  type Pair = { client: import("bun").Socket<unknown>; upstream: import("bun").Socket<unknown> | null; pending: Uint8Array[]; cut: boolean };
  const conns = new Set<Pair>();
  const server = Bun.listen<{ pair: Pair }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      async open(client) {
        const pair: Pair = { client: client as import("bun").Socket<unknown>, upstream: null, pending: [], cut: false };
        client.data = { pair };
        conns.add(pair);
        pair.upstream = await Bun.connect({
          hostname: target.host,
          port: target.port,
          socket: {
            data(_s, d) {
              if (!blackhole && !pair.cut) client.write(d);
            },
            close() {
              if (!blackhole && !pair.cut) client.end();
            },
          },
        });
        for (const p of pair.pending) pair.upstream.write(p);
      },
      data(client, d) {
        const pair = client.data.pair;
        if (blackhole || pair.cut) return;
        if (pair.upstream) pair.upstream.write(d);
        else pair.pending.push(new Uint8Array(d));
      },
      close(client) {
        if (!blackhole && !client.data.pair.cut) client.data.pair.upstream?.end();
      },
    },
  });
  return {
    port: server.port,
    blackhole() {
      blackhole = true;
    },
    cut() {
      for (const c of conns) c.cut = true;
    },
    stop() {
      for (const c of conns) {
        c.client.terminate?.();
        c.upstream?.terminate?.();
      }
      server.stop(true);
    },
  };
}

export function cleanup(...dirs: (string | undefined)[]): void {
  for (const d of dirs) if (d) rmSync(d, { recursive: true, force: true });
}
export { removeHome };
