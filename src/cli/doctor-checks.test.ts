// Unit tests for doctor's upstream and relay checks: each upstream probed where its kind says (src/kinds/), the relay where its protocol says,
// and a kind's fix when the server does not answer; the systemd unit line for each state the unit can be in.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import { checkRelay, checkSystemdUnit, checkUpstreams } from "./doctor-checks.ts";
import { startFakeOllama, type FakeOllama } from "../../tests/helpers/fake-ollama.ts";

let llama: FakeOllama;
beforeAll(async () => {
  llama = await startFakeOllama({ kind: "llamacpp", models: ["m"] });
});
afterAll(() => llama.stop());

const config = (toml: string) => {
  const r = parseConfig(toml, "t.toml");
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
};

test("doctor probes a llama.cpp server at /health, and names how to start it when it is not running", async () => {
  const [up, gone] = await checkUpstreams(
    config(`[[upstreams]]\nname = "llama"\nkind = "llamacpp"\nurl = "${llama.url}"\n[[upstreams]]\nname = "gone"\nkind = "llamacpp"\nurl = "http://127.0.0.1:9"\n`),
  );
  expect(up!.level).toBe("ok");
  expect(llama.requests.map((r) => r.path)).toEqual(["/health"]);
  expect(gone!.level).toBe("warn");
  expect(gone!.fix).toContain("llama-server");
});

test("doctor asks a bridge-v1 server (the 1.x cloud) at its own health URL, GET /health, not the relay's /healthz", async () => {
  const seen: string[] = [];
  const cloud = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      seen.push(path);
      return path === "/health" ? Response.json({ status: "OK" }) : new Response("Cannot GET", { status: 404 });
    },
  });
  try {
    const c = config(`[api]\nlisten = "127.0.0.1:9"\n[tunnel]\nenabled = true\nprotocol = "bridge-v1"\nrelay_url = "ws://127.0.0.1:${cloud.port}/ws/bridge"\n`);
    const r = (await checkRelay(c))!;
    expect(seen).toEqual(["/health"]);
    expect(r.detail).toContain(`127.0.0.1:${cloud.port} is reachable (HTTP 200 from /health)`);
  } finally {
    cloud.stop(true);
  }
});

test("doctor's systemd line: a masked unit is named as masked with the unmask fix, not as \"not installed\"", () => {
  const unit = (p: Partial<Parameters<typeof checkSystemdUnit>[0]>) => checkSystemdUnit({ available: true, installed: false, enabled: false, active: false, detail: "", ...p });
  // What `systemctl --user mask` leaves: LoadState=masked, so not "loaded".
  expect(unit({ masked: true, detail: "load=masked file=masked active=inactive" })).toMatchObject({
    detail: "cloudtolocalllm-tunnel.service is masked: nothing starts the daemon, not systemd and not the autostart entry",
    fix: "systemctl --user unmask cloudtolocalllm-tunnel.service && systemctl --user enable --now cloudtolocalllm-tunnel.service",
  });
  expect(unit({}).fix).toBe("cloudtolocalllm-tunnel install");
  expect(unit({ installed: true, enabled: true, active: true }).level).toBe("ok");
});

test("doctor does not call an upstream that answers its probe with a redirect reachable: the daemon follows none", async () => {
  const hits: string[] = [];
  const trap = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => (hits.push(new URL(req.url).pathname), Response.json({ version: "0.12.0" })) });
  const redirecting = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(null, { status: 302, headers: { location: `http://127.0.0.1:${trap.port}/api/version` } }) });
  try {
    const [r] = await checkUpstreams(config(`[[upstreams]]\nname = "lan"\nurl = "http://127.0.0.1:${redirecting.port}"\n`));
    expect(r!.level).toBe("fail");
    expect(r!.detail).toContain("answers /api/version with a redirect (HTTP 302), which the daemon does not follow");
    expect(r!.fix).toContain("the daemon follows no redirect");
    expect(hits).toEqual([]);
  } finally {
    trap.stop(true);
    redirecting.stop(true);
  }
});
