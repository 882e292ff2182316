// Debian's nginx as a baseline reverse proxy: generated config in a temp dir, run as the current user, stopped after.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitHttp } from "./proc.ts";

export interface Nginx {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startNginx(upstreamUrl: string): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-nginx-"));
  for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d));
  const port = await freePort();
  const up = new URL(upstreamUrl);
  const conf = `
${process.getuid?.() === 0 ? "user root root;" : ""}
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
  scgi_temp_path ${dir}/scgi;
  upstream ollama { server ${up.host}; keepalive 256; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://ollama;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host ${up.host};
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 600s;
    }
  }
}
`;
  writeFileSync(join(dir, "nginx.conf"), conf);
  const p = Bun.spawn(["nginx", "-p", dir, "-c", join(dir, "nginx.conf")], { stdout: "ignore", stderr: "pipe" });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/api/version`, 5000, p);
  return {
    url,
    pid: p.pid,
    async stop() {
      p.kill("SIGQUIT");
      await Promise.race([p.exited, Bun.sleep(3000).then(() => p.kill("SIGKILL"))]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
