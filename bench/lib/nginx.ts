// Debian's nginx as a baseline reverse proxy: generated config in a temp dir, run as the current user, stopped after.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nginxPrelude, runNginx } from "./peers.ts";
import { freePort } from "./proc.ts";

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
  return runNginx("nginx", dir, port, conf);
}
