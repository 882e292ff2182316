// The broker's DNS-rebinding guard on a real listener: rebinding names (127.evil.example, 127.0.0.1.nip.io) are refused before any
// upstream sees the request; loopback literals, localhost and configured names get through (issue 12 item 4).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";

let fake: FakeOllama;
let tb: TestBroker;
let port: number;

beforeAll(async () => {
  fake = await startFakeOllama();
  tb = await startBroker(upstreamToml("local", fake.url), {}, 'allowed_hosts = ["Ollama.Box.Lan"]');
  port = Number(new URL(tb.url).port);
});
afterAll(async () => {
  await tb?.stop();
  await fake?.stop();
});

test("rebinding names are refused with 403 in Ollama's error shape, and never reach an upstream", async () => {
  const generations = () => fake.requests.filter((r) => r.path === "/api/generate").length;
  for (const name of ["127.evil.example", "127.0.0.1.nip.io", "127.0.0.1.evil", "127.0.0.1.", "127.1", "0x7f.0.0.1", "2130706433", "localhost.evil.example", "ollama.box.lan.evil.example", "evil.example"]) {
    for (const host of [name, `${name}:${port}`]) {
      const body = JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false });
      const r = await rawRequest(port, "POST", "/api/generate", { host, body, headers: { "content-type": "application/json" } });
      expect({ host, status: r.status }).toEqual({ host, status: 403 });
      expect(JSON.parse(r.body).error).toContain("Host");
    }
  }
  expect(generations()).toBe(0);
  // The same request with a loopback Host is served: the refusals above were the Host's doing.
  const ok = await rawRequest(port, "POST", "/api/generate", { body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }), headers: { "content-type": "application/json" } });
  expect(ok.status).toBe(200);
  expect(generations()).toBe(1);
});

test("loopback literals, localhost names and the configured name are served", async () => {
  for (const host of [`127.0.0.1:${port}`, "127.0.0.1", "127.1.2.3", `localhost:${port}`, "LocalHost", "localhost.", `LOCALHOST.:${port}`, "app.localhost", "[::1]", `[::1]:${port}`, "ollama.box.lan", `OLLAMA.box.lan:${port}`]) {
    const r = await rawRequest(port, "GET", "/api/tags", { host });
    expect({ host, status: r.status }).toEqual({ host, status: 200 });
    expect(JSON.parse(r.body).models.length).toBeGreaterThan(0);
  }
});

test("two Origin lines (Bun joins them with a comma; Ollama's CORS reads the first) are refused with 403 and never reach an upstream: an allowed app:// origin first no longer lets the second in", async () => {
  const generations = () => fake.requests.filter((r) => r.path === "/api/generate").length;
  const before = generations();
  const body = JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false });
  for (const origins of [["app://x", "http://evil.example"], ["file://a", "https://evil.example"], ["http://evil.example", "app://x"]]) {
    const raw = await rawRequest(port, "POST", "/api/generate", { body, headers: { "content-type": "application/json", Origin: origins[0]!, origin: origins[1]! } });
    expect({ origins, status: raw.status, allow: raw.headers["access-control-allow-origin"] ?? null }).toEqual({ origins, status: 403, allow: null });
  }
  expect(generations()).toBe(before);
  // One of them alone is served: the refusals were the second line's doing.
  const one = await rawRequest(port, "POST", "/api/generate", { body, headers: { "content-type": "application/json", origin: "app://x" } });
  expect({ status: one.status, allow: one.headers["access-control-allow-origin"] }).toEqual({ status: 200, allow: "app://x" });
});
