// The sign-in issuer's certificate is verified whatever the environment says: NODE_TLS_REJECT_UNAUTHORIZED=0 (set for
// some other tool) must not let whoever answers for the issuer's name receive the refresh token or hand out tokens.
import { expect } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTools } from "../helpers/requires.ts";
import { BUN } from "../helpers/daemon.ts";

const { afterAll, beforeAll, test } = requireTools(["openssl"]);

let dir: string;
let server: ReturnType<typeof Bun.serve>;
let issuer: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "c2l-issuer-tls-"));
  const r = Bun.spawnSync(
    ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    { cwd: dir, stdout: "pipe", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  // A self-signed issuer: what an attacker on the path (or a captive portal) would present for the issuer's name.
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") },
    fetch(req) {
      const base = `https://127.0.0.1:${server.port}`;
      if (new URL(req.url).pathname === "/.well-known/openid-configuration")
        return Response.json({ issuer: base, authorization_endpoint: `${base}/authorize`, token_endpoint: `${base}/token`, jwks_uri: `${base}/jwks`, response_types_supported: ["code"] });
      return new Response("not found", { status: 404 });
    },
  });
  issuer = `https://127.0.0.1:${server.port}`;
});
afterAll(() => server?.stop(true));

/** Not spawnSync: the issuer above answers from this process's event loop. */
const probe = async (env: Record<string, string>) => {
  const p = Bun.spawn([BUN, join(import.meta.dir, "issuer-tls-probe.ts"), issuer], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, ...env }, stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return out.trim() || err;
};

test("an issuer whose certificate is not trusted is refused even with NODE_TLS_REJECT_UNAUTHORIZED=0; trusted, it is discovered", async () => {
  const refused = await probe({ NODE_TLS_REJECT_UNAUTHORIZED: "0" });
  expect(refused).toStartWith(`refused: Could not reach the sign-in issuer ${issuer}`);
  // The same issuer with its certificate trusted: the server above is a working issuer, so the refusal was the check.
  expect(await probe({ NODE_EXTRA_CA_CERTS: join(dir, "cert.pem") })).toBe("discovered");
}, 30_000);
