// Integration: the request-smuggling cases against every listener a client reaches (broker, control API, relay), byte for
// byte over raw sockets. Each is refused with 400 and one answer, and nothing of it, nor a request hidden in its body,
// reaches the upstream. Bun's parser refuses most; src/core/request-checks.ts refuses what Bun merges (two Hosts, two
// equal Content-Lengths). Absolute-form targets are read as origin-form by the Host header, by routing and guard alike.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { connect } from "node:net";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { removeHome, type DaemonProc } from "../helpers/daemon.ts";
import { CLIENT_KEY, TUNNEL_ID, cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";

setDefaultTimeout(30_000);

/** Writes raw bytes, reads until the server closes (or 3 s): every status line received, and the first body. */
function raw(port: number, bytes: string): Promise<{ statuses: number[]; body: string }> {
  return new Promise((resolve) => {
    let out = "";
    const s = connect({ host: "127.0.0.1", port }, () => s.write(bytes));
    s.setEncoding("latin1");
    s.on("data", (d) => (out += d));
    const done = () => {
      const statuses = [...out.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      const at = out.indexOf("\r\n\r\n");
      resolve({ statuses, body: at < 0 ? "" : out.slice(at + 4) });
    };
    s.on("close", done);
    s.on("error", () => {});
    setTimeout(() => s.destroy(), 3_000);
  });
}

/** A request that would run if a server ended the first one where a confused parser would. */
const SMUGGLED = "GET /api/smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/** [name, head lines after the request line (CRLF-terminated), body]: each must be refused. */
const CASES: [string, string, string][] = [
  ["Content-Length with Transfer-Encoding", "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" + SMUGGLED],
  ["two different Content-Lengths", "Content-Length: 4\r\nContent-Length: 45\r\n", "abcd" + SMUGGLED],
  ["two equal Content-Lengths", "Content-Length: 4\r\nContent-Length: 4\r\n", "abcd"],
  ["a Content-Length list", "Content-Length: 4, 4\r\n", "abcd"],
  ["Transfer-Encoding: chunked, identity", "Transfer-Encoding: chunked, identity\r\n", "4\r\nabcd\r\n0\r\n\r\n"],
  ["Transfer-Encoding: identity", "Transfer-Encoding: identity\r\nContent-Length: 4\r\n", "abcd"],
  ["two Transfer-Encodings", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "4\r\nabcd\r\n0\r\n\r\n"],
  ["a signed Content-Length", "Content-Length: +4\r\n", "abcd"],
  ["a bare CR in a header value", "X-A: b\rc\r\nContent-Length: 4\r\n", "abcd"],
  ["a folded header (obs-fold)", "X-A: b\r\n c\r\nContent-Length: 4\r\n", "abcd"],
  ["a space before the colon", "Content-Length : 4\r\n", "abcd"],
  ["a NUL in a header value", "X-A: b\0c\r\nContent-Length: 4\r\n", "abcd"],
];

describe("request smuggling, on every listener", () => {
  let fake: FakeOllama;
  let relay: RelayProc;
  let daemon: DaemonProc;
  const targets: { name: string; port: () => number; path: string; auth: string; hostCheck: boolean }[] = [];

  beforeAll(async () => {
    fake = await startFakeOllama();
    relay = await startRelayProc(relayToml());
    daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
    const port = (name: string) => Number(new URL(daemon.urls[name]!).port);
    targets.push(
      { name: "broker", port: () => port("broker"), path: "/api/generate", auth: "", hostCheck: true },
      { name: "control API", port: () => port("api"), path: "/api/v1/reconnect", auth: "", hostCheck: true },
      { name: "relay", port: () => relay.port, path: `/t/${TUNNEL_ID}/api/generate`, auth: `Authorization: Bearer ${CLIENT_KEY}\r\n`, hostCheck: false },
    );
    // The path works when it is well-formed: through the relay and the broker, a real generation reaches the upstream.
    const ok = await fetch(`${relay.url}/t/${TUNNEL_ID}/api/generate`, { method: "POST", headers: { authorization: `Bearer ${CLIENT_KEY}` }, body: JSON.stringify({ model: "llama3.2:1b", prompt: "hi", stream: false }) });
    expect(ok.status).toBe(200);
  });
  afterAll(async () => {
    await daemon?.stop();
    await relay?.stop();
    await fake?.stop();
    cleanup(relay?.dir);
    if (daemon) removeHome(daemon.home);
  });

  for (const [name, headers, body] of CASES) {
    test(`${name}: 400, one answer, nothing upstream`, async () => {
      for (const t of targets) {
        const before = fake.requests.length;
        const r = await raw(t.port(), `POST ${t.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${t.auth}${headers}\r\n${body}`);
        expect({ listener: t.name, statuses: r.statuses }).toEqual({ listener: t.name, statuses: [400] });
        expect({ listener: t.name, upstream: fake.requests.slice(before).map((q) => q.path) }).toEqual({ listener: t.name, upstream: [] });
      }
    });
  }

  test("two Host headers: 400 naming the problem, in the caller's dialect", async () => {
    for (const t of targets) {
      const r = await raw(t.port(), `GET ${t.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n${t.auth}\r\n`);
      expect({ listener: t.name, statuses: r.statuses }).toEqual({ listener: t.name, statuses: [400] });
      expect(r.body).toContain("more than one Host");
    }
    const openai = await raw(targets[0]!.port(), "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect(JSON.parse(openai.body)).toEqual({ error: { message: expect.stringContaining("more than one Host"), type: "invalid_request_error", code: "bad_request", param: null } });
  });

  test("a fragment in the request target (#…): 400 naming it, nothing upstream (Bun keeps it in req.url; servers after it differ)", async () => {
    for (const t of targets) {
      const before = fake.requests.length;
      const r = await raw(t.port(), `POST ${t.path}#x HTTP/1.1\r\nHost: 127.0.0.1\r\n${t.auth}Content-Length: 2\r\n\r\n{}`);
      expect({ listener: t.name, statuses: r.statuses }).toEqual({ listener: t.name, statuses: [400] });
      expect({ listener: t.name, body: r.body }).toEqual({ listener: t.name, body: expect.stringContaining("fragment") });
      expect({ listener: t.name, upstream: fake.requests.slice(before).map((q) => q.path) }).toEqual({ listener: t.name, upstream: [] });
    }
  });

  test("two equal Content-Lengths are named in the answer", async () => {
    const r = await raw(targets[0]!.port(), "POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}");
    expect(r.statuses).toEqual([400]);
    expect(JSON.parse(r.body)).toEqual({ error: expect.stringContaining("more than one Content-Length") });
  });

  test("an absolute-form target is read by its Host header: the broker routes the path, the DNS-rebinding guard judges the Host", async () => {
    const before = fake.requests.length;
    const served = await raw(targets[0]!.port(), "GET http://evil.example/api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    expect(served.statuses).toEqual([200]);
    const seen = fake.requests.slice(before);
    expect(seen.map((q) => [q.path, q.headers.host?.includes("evil")])).toEqual([["/api/tags", false]]);
    const refused = await raw(targets[0]!.port(), "GET http://127.0.0.1/api/tags HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
    expect(refused.statuses).toEqual([403]);
  });

  test("absolute-form spellings (an upper-case scheme, userinfo naming a loopback address, no path at all) are read alike: the path is routed, the authority neither judged nor passed on, on the broker and through the relay", async () => {
    const body = JSON.stringify({ model: "llama3.2:1b", prompt: "absolute", stream: false });
    const post = (target: string, auth = "") => `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    const relayTarget = targets[2]!;
    const cases: [string, number, string, string][] = [
      ["an upper-case scheme", targets[0]!.port(), post("HTTP://evil.example/api/generate"), "POST /api/generate"],
      ["userinfo naming a loopback address", targets[0]!.port(), post("http://127.0.0.1@evil.example/api/generate"), "POST /api/generate"],
      ["no path at all", targets[0]!.port(), "GET http://evil.example HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", "GET /"],
      ["through the relay", relayTarget.port(), post(`http://evil.example/t/${TUNNEL_ID}/api/generate`, relayTarget.auth), "POST /api/generate"],
    ];
    for (const [name, port, bytes, upstream] of cases) {
      const before = fake.requests.length;
      const r = await raw(port, bytes);
      expect({ name, statuses: r.statuses }).toEqual({ name, statuses: [200] });
      const seen = fake.requests.slice(before);
      expect({ name, seen: seen.map((q) => `${q.method} ${q.path}`), evil: seen.some((q) => JSON.stringify(q.headers).includes("evil")) }).toEqual({ name, seen: [upstream], evil: false });
    }
  });

  test("CONNECT (what a client given a listener as its HTTPS proxy sends): 400 naming CONNECT, not the Host, on every listener", async () => {
    for (const t of targets) {
      const before = fake.requests.length;
      const r = await raw(t.port(), `CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n${t.auth}\r\n`);
      expect({ listener: t.name, statuses: r.statuses, body: r.body }).toEqual({ listener: t.name, statuses: [400], body: expect.stringContaining("CONNECT is not supported") });
      expect(r.body).not.toContain("Host header");
      expect(fake.requests.length).toBe(before);
    }
  });

  test("framing Bun reads loosely or that asks for more (a 10,000-byte chunk extension, a zero-padded chunk size, Expect: 100-continue): the upstream gets the one request the broker checked, framed anew; a request pipelined behind it never reaches the upstream", async () => {
    const port = targets[0]!.port();
    const body = JSON.stringify({ model: "llama3.2:1b", prompt: "framed anew", stream: false });
    const chunk = (size: string) => `POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${size}\r\n${body}\r\n0\r\n\r\n`;
    const cases: [string, string, string][] = [
      ["a 10,000-byte chunk extension", chunk(`${body.length.toString(16)};${"x".repeat(10_000)}`), "POST /api/generate"],
      ["a chunk size of 300 leading zeros", chunk(`${"0".repeat(300)}${body.length.toString(16)}`), "POST /api/generate"],
      ["Expect: 100-continue with the body", `POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`, "POST /api/generate"],
      ["Expect: 100-continue on a GET without a body", "GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", "GET /api/version"],
    ];
    for (const [name, bytes, upstream] of cases) {
      const before = fake.requests.length;
      const r = await raw(port, bytes);
      expect({ name, final: r.statuses.filter((s) => s >= 200) }).toEqual({ name, final: [200] });
      const seen = fake.requests.slice(before);
      expect({ name, seen: seen.map((q) => `${q.method} ${q.path}`) }).toEqual({ name, seen: [upstream] });
      // Framed by the broker: a Content-Length it counted, no client framing or Expect passed on.
      const h = seen[0]!.headers;
      expect({ name, expect: h.expect, te: h["transfer-encoding"], length: h["content-length"] }).toEqual({ name, expect: undefined, te: undefined, length: upstream.startsWith("POST") ? String(body.length) : undefined });
      if (upstream.startsWith("POST")) expect((seen[0]!.json as { prompt: string }).prompt).toBe("framed anew");
      // The same bytes with a request pipelined behind them (and no Connection: close): never at the upstream.
      const sneaky = bytes.replace("Connection: close\r\n", "") + SMUGGLED;
      await raw(port, sneaky);
      expect({ name, smuggled: fake.requests.slice(before).filter((q) => q.path === "/api/smuggled").length }).toEqual({ name, smuggled: 0 });
    }
  });

  test("a header value with DEL (Bun's parser takes it, Go's net/http refuses it): through the relay, 400 in the caller's dialect at the agent, nothing upstream; on the broker's own port, passed on as sent", async () => {
    const relayTarget = targets[2]!;
    const before = fake.requests.length;
    const r = await raw(relayTarget.port(), `POST /t/${TUNNEL_ID}/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n${relayTarget.auth}X-Note: a\x7fb\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    expect(r.statuses).toEqual([400]);
    expect(JSON.parse(r.body)).toEqual({ error: expect.objectContaining({ type: "invalid_request_error", message: expect.stringContaining("control character") }) });
    expect(fake.requests.slice(before)).toEqual([]);
    // Documented (docs/gateway.md): on the broker's own port, Bun's parser takes DEL and the broker passes it on as sent.
    const local = await raw(targets[0]!.port(), "GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Note: a\x7fb\r\nConnection: close\r\n\r\n");
    expect(local.statuses).toEqual([200]);
    expect(fake.requests.slice(before).map((q) => [q.path, q.headers["x-note"]])).toEqual([["/api/version", "a\x7fb"]]);
  });

  test("the upstream never saw a smuggled request", () => {
    expect(fake.requests.some((q) => q.path === "/api/smuggled")).toBe(false);
  });
});
