// Through a real daemon: a route with a parameter spelled with a trailing slash (/api/blobs/sha256:…/, /v1/models/{id}/)
// is sent upstream without it, as a fixed route is, so Ollama's gin never answers it with a redirect the broker does not
// follow (a 502 blamed on the upstream).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";

let f: FakeOllama;
let d: DaemonProc;

beforeAll(async () => {
  f = await startFakeOllama({ models: ["m:1b"], tokens: 1, routeDecoded: true, blobStore: true });
  d = await startDaemon({ config: `${TEST_DAEMON_TOML}[[upstreams]]\nname = "local"\nurl = "${f.url}"\n`, waitFor: ["api", "broker"] });
}, 30_000);

afterAll(async () => {
  await d?.stop();
  await f?.stop();
  if (d) removeHome(d.home);
});

test("a blob route spelled with a trailing slash (or two) is sent upstream without it: the upload and its HEAD are Ollama's answers, not a 502 from gin's redirect", async () => {
  const blob = new TextEncoder().encode("weights of a parameter route");
  const digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`;
  const up = await fetch(`${d.urls.broker}/api/blobs/${digest}/`, { method: "POST", body: blob });
  expect(up.status).toBe(201);
  expect(f.blobs.has(digest)).toBe(true);
  for (const spelling of [`/api/blobs/${digest}/`, `/api/blobs/${digest}//`]) {
    const head = await fetch(`${d.urls.broker}${spelling}`, { method: "HEAD" });
    expect({ spelling, status: head.status }).toEqual({ spelling, status: 200 });
  }
  const sent = f.requests.filter((r) => r.path.startsWith("/api/blobs/")).map((r) => r.path);
  expect(sent).toEqual([`/api/blobs/${digest}`, `/api/blobs/${digest}`, `/api/blobs/${digest}`]);
});
