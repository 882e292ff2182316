// Integration: a real daemon's listeners. A reload to a taken port is rejected and the old listener keeps answering; a free one moves; HTTP/1.0 without Host is a 400.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";
import { cleanup, relayToml, startRelayProc } from "../tunnel/helpers.ts";
import { freePort } from "../../bench/lib/proc.ts";

// Real processes on a busy machine: more than bun's 5 s default.
setDefaultTimeout(30_000);

const toml = (api: string, proxy: string, extra = "") => `[api]
listen = "${api}"
[proxy]
listen = "${proxy}"
[secrets]
backend = "file"
[[upstreams]]
name = "local"
url = "http://127.0.0.1:9"
${extra}`;

/** A port nothing listens on right now. */

/** One request on a fresh connection (no pooled keep-alive socket that would outlive a closed listener). */
async function status(url: string): Promise<number | "refused"> {
  try {
    return (await fetch(url, { headers: { connection: "close" }, keepalive: false })).status;
  } catch {
    return "refused";
  }
}

/** Sends `raw` on a new connection and returns everything until the server closes it. */
function rawHttp(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const s = connect({ host: "127.0.0.1", port }, () => s.write(raw));
    s.setEncoding("utf8");
    s.on("data", (d) => (out += d));
    s.on("end", () => resolve(out));
    s.on("error", reject);
    setTimeout(() => (s.destroy(), resolve(out)), 5000);
  });
}

const lastRejection = (d: DaemonProc) => d.stderr().split("\n").filter((l) => l.includes("configuration rejected")).at(-1) ?? "";

describe("moving a listener on reload", () => {
  let d: DaemonProc;
  let api = 0;
  let proxy = 0;
  beforeAll(async () => {
    api = freePort();
    proxy = freePort();
    d = await startDaemon({ config: toml(`127.0.0.1:${api}`, `127.0.0.1:${proxy}`), waitFor: ["api", "broker"] });
    await d.waitFor(/daemon: started/);
  });
  afterAll(async () => {
    await d?.stop();
    if (d) removeHome(d.home);
  });

  test("[api] listen to a taken port: the reload is rejected with the reason, and the API still answers where it was", async () => {
    const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("someone else") });
    try {
      const before = d.count(/configuration rejected/);
      // The log level would change too: a rejected reload changes nothing at all.
      writeFileSync(d.configFile, toml(`127.0.0.1:${holder.port}`, `127.0.0.1:${proxy}`, '[logging]\nlevel = "warn"\n'));
      await until(() => d.count(/configuration rejected/) > before, 10_000, "the rejection");
      const line = lastRejection(d);
      expect(line).toContain("line=2 column=1");
      expect(line).toContain("field=api.listen");
      expect(line).toContain(`the control API cannot listen on 127.0.0.1:${holder.port} ([api] listen): port ${holder.port} is already in use`);
      expect(await status(`http://127.0.0.1:${api}/healthz`)).toBe(200);
      expect(await (await fetch(`http://127.0.0.1:${holder.port}/`)).text()).toBe("someone else");
      const s = (await (await fetch(`http://127.0.0.1:${api}/api/v1/status`)).json()) as { daemon: { lastReload: { ok: boolean; error: { path: string; message: string } } } };
      expect(s.daemon.lastReload.ok).toBe(false);
      expect(s.daemon.lastReload.error.path).toBe("api.listen");
      expect(s.daemon.lastReload.error.message).toContain("is already in use");
      expect(d.stderr()).not.toContain("configuration reloaded");
      expect(d.stderr()).not.toContain("moving the control API");
    } finally {
      holder.stop(true);
    }
  });

  test("[proxy] listen to a taken port together with a free [api] listen: the whole reload is refused, both stay", async () => {
    const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("someone else") });
    const newApi = freePort();
    try {
      const before = d.count(/configuration rejected/);
      writeFileSync(d.configFile, toml(`127.0.0.1:${newApi}`, `127.0.0.1:${holder.port}`));
      await until(() => d.count(/configuration rejected/) > before, 10_000, "the rejection");
      const line = lastRejection(d);
      expect(line).toContain("field=proxy.listen");
      expect(line).toContain(`the broker cannot listen on 127.0.0.1:${holder.port} ([proxy] listen)`);
      // The API's new socket, bound in the first phase, was let go again; the old ones answer.
      expect(await status(`http://127.0.0.1:${newApi}/healthz`)).toBe("refused");
      expect(await status(`http://127.0.0.1:${api}/healthz`)).toBe(200);
      expect(await status(`http://127.0.0.1:${proxy}/api/version`)).toBe(502); // the broker answers (its upstream is down)
    } finally {
      holder.stop(true);
    }
  });

  test("saving the same text again once the port is free applies it (a rejected text is not taken as already seen)", async () => {
    const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("someone else") });
    const taken = holder.port!;
    const text = toml(`127.0.0.1:${taken}`, `127.0.0.1:${proxy}`);
    const before = d.count(/configuration rejected/);
    writeFileSync(d.configFile, text);
    await until(() => d.count(/configuration rejected/) > before, 10_000, "the rejection");
    holder.stop(true);
    writeFileSync(d.configFile, text);
    await d.waitFor(/configuration reloaded sections=api$/, 10_000);
    expect(await status(`http://127.0.0.1:${taken}/healthz`)).toBe(200);
    expect(await status(`http://127.0.0.1:${api}/healthz`)).toBe("refused");
    api = taken;
  });

  test("PUT /api/v1/config to a taken port answers 409 with the reason; the API stays where it was", async () => {
    const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("someone else") });
    try {
      const token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
      const r = await fetch(`http://127.0.0.1:${api}/api/v1/config`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/toml" },
        body: toml(`127.0.0.1:${holder.port}`, `127.0.0.1:${proxy}`),
      });
      expect(r.status).toBe(409);
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("conflict");
      expect(body.error.message).toContain(`not applied: api.listen: the control API cannot listen on 127.0.0.1:${holder.port} ([api] listen): port ${holder.port} is already in use`);
      expect(await status(`http://127.0.0.1:${api}/healthz`)).toBe(200);
    } finally {
      holder.stop(true);
    }
  });

  test("PUT /api/v1/config to a free port is answered (200) on the old socket before it closes, not cut off", async () => {
    const token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
    const newApi = freePort();
    const r = await fetch(`http://127.0.0.1:${api}/api/v1/config`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/toml" },
      body: toml(`127.0.0.1:${newApi}`, `127.0.0.1:${proxy}`),
    });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { reload: { ok: boolean } }).reload.ok).toBe(true);
    expect(await status(`http://127.0.0.1:${newApi}/healthz`)).toBe(200);
    expect(await status(`http://127.0.0.1:${api}/healthz`)).toBe("refused");
    api = newApi;
  });

  test("a free address moves both listeners; the old ports close", async () => {
    const newApi = freePort();
    const newProxy = freePort();
    writeFileSync(d.configFile, toml(`127.0.0.1:${newApi}`, `127.0.0.1:${newProxy}`));
    await d.waitFor(/configuration reloaded sections=api,proxy/, 10_000);
    expect(await status(`http://127.0.0.1:${newApi}/healthz`)).toBe(200);
    expect(await status(`http://127.0.0.1:${newProxy}/api/version`)).toBe(502);
    expect(await status(`http://127.0.0.1:${api}/healthz`)).toBe("refused");
    expect(await status(`http://127.0.0.1:${proxy}/api/version`)).toBe("refused");
    api = newApi;
    proxy = newProxy;
  });

  test("a /ws client of the moved API is closed (1001) with a reason naming where the API went, not told the daemon is stopping", async () => {
    const token = readFileSync(join(d.home, ".config/cloudtolocalllm/api-token"), "utf8").trim();
    const ws = new WebSocket(`ws://127.0.0.1:${api}/ws`, { headers: { authorization: `Bearer ${token}` } } as unknown as string[]);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => (ws.onclose = (e) => resolve({ code: e.code, reason: e.reason })));
    await new Promise<void>((resolve, reject) => {
      ws.onmessage = () => resolve();
      ws.onerror = () => reject(new Error("the live-event socket failed"));
    });
    const newApi = freePort();
    const reloads = d.count(/configuration reloaded/);
    writeFileSync(d.configFile, toml(`127.0.0.1:${newApi}`, `127.0.0.1:${proxy}`));
    api = newApi;
    const e = await closed;
    expect(e.code).toBe(1001);
    expect(e.reason).toBe(`the control API moved to http://127.0.0.1:${newApi}; reconnect there`);
    await until(() => d.count(/configuration reloaded/) > reloads, 10_000, "the reload");
  });

  test("the same port under another name (127.0.0.1 → localhost) is not refused by the daemon's own socket", async () => {
    const before = d.count(/configuration reloaded/);
    writeFileSync(d.configFile, toml(`localhost:${api}`, `localhost:${proxy}`));
    await until(() => d.count(/configuration reloaded/) > before, 10_000, "the reload");
    expect(lastRejection(d)).not.toContain(`localhost:${api}`);
    expect(await status(`http://127.0.0.1:${api}/healthz`)).toBe(200);
    expect(await status(`http://127.0.0.1:${proxy}/api/version`)).toBe(502);
  });
});

describe("HTTP/1.0 without a Host header", () => {
  let d: DaemonProc;
  beforeAll(async () => {
    d = await startDaemon({ config: toml("127.0.0.1:0", "127.0.0.1:0"), waitFor: ["api", "broker"] });
  });
  afterAll(async () => {
    await d?.stop();
    if (d) removeHome(d.home);
  });
  const port = (name: string) => Number(new URL(d.urls[name]!).port);
  const split = (raw: string) => ({ status: Number(raw.split(" ")[1]), body: raw.slice(raw.indexOf("\r\n\r\n") + 4) });

  test("the control API answers 400 bad_request saying what is missing", async () => {
    for (const path of ["/healthz", "/api/v1/status", "/api/v1/config", "/nope"]) {
      const r = split(await rawHttp(port("api"), `GET ${path} HTTP/1.0\r\n\r\n`));
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body)).toEqual({ error: { code: "bad_request", message: expect.stringContaining("no Host header") } });
    }
    // With Host, HTTP/1.0 is served.
    expect(split(await rawHttp(port("api"), `GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`)).status).toBe(200);
    expect(d.stderr()).not.toContain("request failed");
  });

  test("the broker answers 400 in the caller's dialect instead of routing a mangled path", async () => {
    const ollama = split(await rawHttp(port("broker"), "GET /api/tags HTTP/1.0\r\n\r\n"));
    expect(ollama.status).toBe(400);
    expect(JSON.parse(ollama.body)).toEqual({ error: expect.stringContaining("no Host header") });
    const openai = split(await rawHttp(port("broker"), "GET /v1/models?x=1 HTTP/1.0\r\n\r\n"));
    expect(openai.status).toBe(400);
    expect(JSON.parse(openai.body)).toEqual({ error: { message: expect.stringContaining("no Host header"), type: "invalid_request_error", code: "bad_request", param: null } });
  });

  test("a Host Bun cannot make a URL of is named as such, not called missing (API and broker)", async () => {
    for (const host of ["evil.example@127.0.0.1", "127.0.0.1 evil", "127.0.0.1:80/x"]) {
      const api = split(await rawHttp(port("api"), `GET /api/v1/status HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
      expect({ host, status: api.status, body: JSON.parse(api.body) }).toEqual({ host, status: 400, body: { error: { code: "bad_request", message: expect.stringContaining(`the Host header ${JSON.stringify(host)} is not a host`) } } });
      const ollama = split(await rawHttp(port("broker"), `GET /api/tags HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
      expect({ host, status: ollama.status, body: JSON.parse(ollama.body) }).toEqual({ host, status: 400, body: { error: expect.stringContaining(`the Host header ${JSON.stringify(host)}`) } });
    }
  });
});

test("HTTP/1.0 without Host on the relay is a 400 too (before: a 500 HTML error page)", async () => {
  const relay = await startRelayProc(relayToml());
  try {
    for (const path of ["/healthz", "/api/tags", "/v1/models"]) {
      const raw = await rawHttp(relay.port, `GET ${path} HTTP/1.0\r\n\r\n`);
      expect(Number(raw.split(" ")[1])).toBe(400);
      expect(raw.slice(raw.indexOf("\r\n\r\n") + 4)).toContain("no Host header");
    }
    expect(relay.stderr()).not.toContain("Invalid URL");
  } finally {
    await relay.stop();
    cleanup(relay.dir);
  }
});
