// Debian's nginx as a baseline reverse proxy: generated config in a temp dir, run as the current user, stopped after.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nginxPrelude } from "./peers.ts";
import { freePort, waitHttp } from "./proc.ts";

export interface Nginx {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startNginx(upstreamUrl: string): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-nginx-"));
  const port = await freePort();
  const up = new URL(upstreamUrl);
  const conf = `${nginxPrelude(dir)}
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
