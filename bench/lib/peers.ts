// The reverse proxies and the static upstream the hot-path benchmark compares against: nginx answering fixed JSON (an
// upstream that costs next to nothing), HAProxy (option http-no-delay) and Caddy in front of it. Each in a temp dir with
// its own config, stopped and removed after.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort, waitHttp } from "./proc.ts";

export interface Peer {
  name: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** About 400 bytes of Ollama-shaped JSON: what a cheap /api/generate answer looks like. */
export const STATIC_JSON = JSON.stringify({
  model: "bench:latest",
  created_at: "2026-01-01T00:00:00.000000000Z",
  response: "ok",
  done: true,
  done_reason: "stop",
  context: [1, 2, 3],
  total_duration: 1234567,
  load_duration: 12345,
  prompt_eval_count: 1,
  prompt_eval_duration: 12345,
  eval_count: 1,
  eval_duration: 12345,
  pad: "x".repeat(120),
});
const TAGS = JSON.stringify({ models: [{ name: "bench:latest", model: "bench:latest", modified_at: "2026-01-01T00:00:00Z", size: 1, digest: "0".repeat(64), details: { family: "bench" } }] });

async function started(name: string, proc: Subprocess, url: string, dir: string, probe = "/api/version"): Promise<Peer> {
  await waitHttp(`${url}${probe}`, 10_000, proc);
  return {
    name,
    url,
    pid: proc.pid,
    async stop() {
      proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(3000).then(() => proc.kill("SIGKILL"))]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The top of an nginx.conf that runs in `dir` (pid, logs and temp files there), up to inside `http {`: close it with `}`. */
export function nginxPrelude(dir: string): string {
  for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d), { recursive: true });
  return `${process.getuid?.() === 0 ? "user root root;" : ""}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;`;
}

/** nginx answering every path with fixed JSON (the model list on /api/tags): the upstream that costs least. */
export async function startStaticUpstream(): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-static-"));
  const port = await freePort();
  const conf = `${nginxPrelude(dir)}
  server {
    listen 127.0.0.1:${port} backlog=4096;
    keepalive_requests 1000000;
    default_type application/json;
    client_max_body_size 0;
    location = /api/tags { return 200 '${TAGS}'; }
    location = /api/ps { return 200 '{"models":[]}'; }
    location = /api/version { return 200 '{"version":"0.9.0"}'; }
    location / { return 200 '${STATIC_JSON}'; }
  }
}
`;
  return runNginx("static nginx", dir, port, conf);
}

/** Writes `conf` as the nginx.conf of `dir`, starts nginx on it, and waits for it to answer on `port`. */
export function runNginx(name: string, dir: string, port: number, conf: string): Promise<Peer> {
  writeFileSync(join(dir, "nginx.conf"), conf);
  const p = Bun.spawn(["nginx", "-p", dir, "-c", join(dir, "nginx.conf")], { stdout: "ignore", stderr: "inherit" });
  return started(name, p, `http://127.0.0.1:${port}`, dir);
}

/** nginx as a reverse proxy (one worker, keepalive upstream, no buffering). */
export async function startNginxProxy(upstream: string): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-nginx-"));
  const port = await freePort();
  const up = new URL(upstream);
  return runNginx(
    "nginx",
    dir,
    port,
    `${nginxPrelude(dir)}
  upstream u { server ${up.host}; keepalive 256; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://u;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
`,
  );
}

/** HAProxy in HTTP mode, one thread, option http-no-delay, keep-alive to the upstream. */
export async function startHaproxyProxy(upstream: string): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-haproxy-"));
  const port = await freePort();
  const up = new URL(upstream);
  writeFileSync(
    join(dir, "haproxy.cfg"),
    `global
  maxconn 4000
  nbthread 1
defaults
  mode http
  option http-no-delay
  option http-keep-alive
  http-reuse always
  timeout connect 2s
  timeout client 60s
  timeout server 60s
frontend f
  bind 127.0.0.1:${port}
  default_backend b
backend b
  server s ${up.host}
`,
  );
  const p = Bun.spawn(["haproxy", "-db", "-f", join(dir, "haproxy.cfg")], { stdout: "ignore", stderr: "inherit" });
  return started("HAProxy", p, `http://127.0.0.1:${port}`, dir);
}

/** Caddy's reverse_proxy (streaming: flush_interval -1), no admin endpoint, no automatic HTTPS. */
export async function startCaddyProxy(upstream: string): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-caddy-"));
  const port = await freePort();
  const up = new URL(upstream);
  writeFileSync(join(dir, "Caddyfile"), `{\n  admin off\n  auto_https off\n}\nhttp://127.0.0.1:${port} {\n  reverse_proxy ${up.host} {\n    flush_interval -1\n  }\n}\n`);
  const p = Bun.spawn(["caddy", "run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"], {
    stdout: "ignore",
    stderr: "ignore",
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config"), GOMAXPROCS: "1" },
  });
  return started("Caddy", p, `http://127.0.0.1:${port}`, dir);
}
