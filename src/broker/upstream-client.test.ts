// Unit tests for the choice of upstream client (HTTP/1.1 or fetch) and the Attempt cancel switch.
import { afterEach, expect, test } from "bun:test";
import { Http1Pool } from "./http1-client.ts";
import { Attempt, createUpstreamClient, FetchClient } from "./upstream-client.ts";
import { Upstream } from "./upstream.ts";

const up = (url: string) =>
  new Upstream({ name: "u", kind: "ollama", url, priority: 1, enabled: true, connect_timeout: "1s", first_byte_timeout: "1s", stream_idle_timeout: "5m", keep_alive: "", max_parallel: 0, auth_secret: "", auth_header: "Authorization", auth_scheme: "Bearer", ca_file: "", tls_insecure: false }, 60_000);

afterEach(() => {
  delete process.env.CLOUDTOLOCALLLM_BROKER_CLIENT;
});

test("plain http:// upstreams get the HTTP/1.1 client; https://, URL credentials and the fetch switch get fetch", () => {
  expect(createUpstreamClient(up("http://127.0.0.1:11434"))).toBeInstanceOf(Http1Pool);
  expect(createUpstreamClient(up("http://[::1]:11434/prefix/"))).toBeInstanceOf(Http1Pool);
  expect(createUpstreamClient(up("https://gpu.example/ollama"))).toBeInstanceOf(FetchClient);
  expect(createUpstreamClient(up("http://user:pw@gpu.example"))).toBeInstanceOf(FetchClient);
  process.env.CLOUDTOLOCALLLM_BROKER_CLIENT = "fetch";
  expect(createUpstreamClient(up("http://127.0.0.1:11434"))).toBeInstanceOf(FetchClient);
});

test("an Attempt calls each abort listener once, objects and functions alike, and forgets removed ones", () => {
  const a = new Attempt();
  const calls: string[] = [];
  const obj = { handleEvent: () => void calls.push("obj") };
  const fn = () => void calls.push("fn");
  const gone = () => void calls.push("gone");
  a.addEventListener("abort", obj);
  a.addEventListener("abort", fn);
  a.addEventListener("abort", gone);
  a.removeEventListener("abort", gone);
  expect(a.aborted).toBe(false);
  a.abort();
  a.abort();
  expect(a.aborted).toBe(true);
  expect(calls).toEqual(["obj", "fn"]);
});

test("an Attempt keeps its listeners' order when the first is removed and more come", () => {
  const a = new Attempt();
  const calls: string[] = [];
  const l = (name: string) => () => void calls.push(name);
  const first = l("first");
  const b = l("b");
  a.addEventListener("abort", first);
  a.addEventListener("abort", b);
  a.removeEventListener("abort", first);
  a.addEventListener("abort", l("c"));
  a.abort();
  expect(calls).toEqual(["b", "c"]);
  const again = new Attempt();
  const only = l("only");
  again.addEventListener("abort", only);
  again.removeEventListener("abort", only);
  again.addEventListener("abort", l("d"));
  again.abort();
  expect(calls).toEqual(["b", "c", "d"]);
});
