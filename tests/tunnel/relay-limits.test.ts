// The relay's per-tunnel limits and timeouts with an in-process relay and agent: 429s, 413s, 504 only before the first byte, replacement; each as the ollama and openai clients show it.
import { afterEach, expect, test } from "bun:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { parseRelayConfig } from "../../src/relay/config.ts";
import { hashToken } from "../../src/relay/auth.ts";
import { startRelay, type RelayServer } from "../../src/relay/server.ts";
import { connect, type Connection } from "../../src/tunnel/connector.ts";
import { serveStream } from "../../src/protocol/http-over-stream.ts";

const AGENT = "limits-agent-token-0000";
const CLIENT = "limits-client-key-0000";
/** A second client key of the tunnel (another cloud client). */
const CLIENT2 = "limits-client-key-0002";
const open: { relay?: RelayServer; conns: Connection[] } = { conns: [] };

afterEach(async () => {
  for (const c of open.conns) c.close("test over");
  open.conns = [];
  await open.relay?.stop();
  open.relay = undefined;
});

async function relayWith(limits: string, extra = ""): Promise<RelayServer> {
  const r = parseRelayConfig(`listen = "127.0.0.1:0"\nfirst_byte_timeout = "300ms"\ngo_away_grace = "1s"\n${extra}\n[limits]\n${limits}\n[[tunnels]]\nid = "t"\nagent_token_sha256 = "${hashToken(AGENT)}"\nclient_key_sha256 = ["${hashToken(CLIENT)}", "${hashToken(CLIENT2)}"]\n`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  open.relay = await startRelay(r.config);
  return open.relay;
}

async function agent(relay: RelayServer, handler: (req: Request) => Promise<Response>): Promise<Connection> {
  const c = await connect({
    url: `${relay.url.replace(/^http/, "ws")}/agent`,
    token: AGENT,
    agent: "test",
    heartbeatMs: 1000,
    toleranceMs: 3000,
    maxStreams: 64,
    onStream: (s) => void serveStream(s, handler),
  });
  open.conns.push(c);
  return c;
}

const call = (relay: RelayServer, path: string, init: RequestInit = {}) =>
  fetch(`${relay.url}/t/t${path}`, { ...init, headers: { Authorization: `Bearer ${CLIENT}`, ...(init.headers ?? {}) } });
/** The stable code every rendered error carries in a header, whatever the caller's dialect shapes the body into. */
const code = async (r: Response) => {
  await r.body?.cancel();
  return r.headers.get("x-c2l-error-code");
};

test("504 only when no first byte arrives in time; a long generation after the first byte is never cut", async () => {
  const relay = await relayWith("max_streams = 8");
  await agent(relay, async (req) => {
    if (req.url.endsWith("/slow-head")) {
      await Bun.sleep(1_000);
      return new Response("late");
    }
    // Head at once, then a body that takes well over first_byte_timeout.
    let i = 0;
    return new Response(
      new ReadableStream({
        async pull(c) {
          if (i++ >= 8) return c.close();
          await Bun.sleep(100);
          c.enqueue(new TextEncoder().encode(`${i}\n`));
        },
      }),
    );
  });
  const slow = await call(relay, "/slow-head");
  expect(slow.status).toBe(504);
  expect(await code(slow)).toBe("upstream_timeout");
  const long = await call(relay, "/long");
  expect(long.status).toBe(200);
  expect(await long.text()).toBe("1\n2\n3\n4\n5\n6\n7\n8\n");
});

test("concurrent streams over the tunnel's limit get 429 rate_limited", async () => {
  const relay = await relayWith("max_streams = 2");
  const gate = Promise.withResolvers<void>();
  await agent(relay, async () => (await gate.promise, new Response("ok")));
  const a = call(relay, "/hold");
  const b = call(relay, "/hold");
  await Bun.sleep(50);
  const c = await call(relay, "/hold");
  expect(c.status).toBe(429);
  expect(await code(c)).toBe("rate_limited");
  gate.resolve();
  expect((await a).status).toBe(200);
  expect((await b).status).toBe(200);
  await Bun.sleep(20);
  expect((await call(relay, "/again")).status).toBe(200);
});

test("requests per minute over the limit get 429", async () => {
  const relay = await relayWith("requests_per_minute = 3");
  await agent(relay, async () => new Response("ok"));
  const statuses = [];
  for (let i = 0; i < 5; i++) statuses.push((await call(relay, "/x")).status);
  expect(statuses).toEqual([200, 200, 200, 429, 429]);
});

test("one client key's requests per minute leave a quarter of the tunnel's for its others, made-up gateway keys or not: over its share it gets 429 saying so, another client key is served", async () => {
  const relay = await relayWith("requests_per_minute = 8");
  await agent(relay, async () => new Response("ok"));
  let n = 0;
  // A new (made-up) gateway key on every call: the minute goes by the relay's own credential.
  const as = (key: string) => call(relay, "/x", { headers: { Authorization: `Bearer ${key}`, "x-api-key": `c2l_made-up-${n++}` } });
  const flood: [number, string][] = [];
  for (let i = 0; i < 8; i++) {
    const r = await as(CLIENT);
    flood.push([r.status, await r.text()]);
  }
  expect([(await as(CLIENT2)).status, (await as(CLIENT2)).status]).toEqual([200, 200]);
  expect(flood.map((f) => f[0])).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
  expect(flood[6]![1]).toContain("this client is over its 6 of the tunnel's 8 requests per minute");
  // The tunnel's own minute is spent now: anyone's next call is refused.
  expect((await as(CLIENT2)).status).toBe(429);
});

test("a client that spent its share of the minute at once is refused for the rest of that minute, however long it keeps calling: the quarter kept back stays the other clients'", async () => {
  // requests_per_minute 60: the flood's share is 45, refilled (by the token bucket before) at 0.75 a second.
  const relay = await relayWith("requests_per_minute = 60");
  await agent(relay, async () => new Response("ok"));
  const as = async (key: string) => {
    const r = await call(relay, "/x", { headers: { Authorization: `Bearer ${key}` } });
    return [r.status, r.headers.get("retry-after"), await r.text()] as const;
  };
  for (let i = 0; i < 45; i++) expect((await as(CLIENT))[0]).toBe(200);
  // Three seconds of calls on: each is its share's 429, with the time its oldest call leaves the minute.
  const later: (readonly [number, string | null, string])[] = [];
  for (const t0 = performance.now(); performance.now() - t0 < 3_000; await Bun.sleep(100)) later.push(await as(CLIENT));
  expect(later.filter(([status]) => status !== 429)).toEqual([]);
  expect(later.every(([, , body]) => body.includes("this client is over its 45 of the tunnel's 60 requests per minute"))).toBe(true);
  expect(Number(later.at(-1)![1])).toBeGreaterThan(30);
  // The other client has its quarter whole: 15 calls, then the tunnel's minute is spent.
  const editor = [];
  for (let i = 0; i < 16; i++) editor.push((await as(CLIENT2))[0]);
  expect(editor).toEqual([...Array(15).fill(200), 429]);
});

test("max_body_bytes = 0 is no limit (not a limit of 0), and an empty admin_token_sha256 disables the tunnel listing for every bearer", async () => {
  // docs/relay.md, Configuration: "max_body_bytes ... (0 = no limit)"; "admin_token_sha256 ... empty disables the listing".
  const relay = await relayWith("max_body_bytes = 0", `admin_token_sha256 = ""`);
  await agent(relay, async (req) => new Response(String((await req.arrayBuffer()).byteLength)));
  for (const size of [1, 3 * 1024 * 1024]) {
    const r = await call(relay, "/upload", { method: "POST", body: new Uint8Array(size) });
    expect([r.status, await r.text()]).toEqual([200, String(size)]);
  }
  for (const auth of [undefined, "Bearer ", "Bearer x", `Bearer ${CLIENT}`, `Bearer ${AGENT}`]) {
    const r = await fetch(`${relay.url}/api/tunnels`, { headers: auth === undefined ? {} : { authorization: auth } });
    const body = await r.text();
    expect({ auth, status: r.status, code: r.headers.get("x-c2l-error-code") }).toEqual({ auth, status: 401, code: "unauthorized" });
    expect(body).not.toContain('"tunnels"');
  }
});

test("bodies over max_body_bytes get 413, declared or streamed", async () => {
  const relay = await relayWith("max_body_bytes = 1000");
  await agent(relay, async (req) => new Response(String((await req.arrayBuffer()).byteLength)));
  expect(await (await call(relay, "/up", { method: "POST", body: "x".repeat(999) })).text()).toBe("999");
  const declared = await call(relay, "/up", { method: "POST", body: "x".repeat(2000) });
  expect(declared.status).toBe(413);
  const streamed = await call(relay, "/up", {
    method: "POST",
    body: new ReadableStream({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(400));
        c.close();
      },
    }),
    // @ts-expect-error streamed body
    duplex: "half",
  });
  expect(streamed.status).toBe(413);
  expect(await code(streamed)).toBe("payload_too_large");
});

test("a reconnecting agent replaces its old session cleanly", async () => {
  const relay = await relayWith("max_streams = 8");
  const first = await agent(relay, async () => new Response("first"));
  expect(await (await call(relay, "/who")).text()).toBe("first");
  await agent(relay, async () => new Response("second"));
  expect((await first.closed).code).toBe("replaced");
  expect(await (await call(relay, "/who")).text()).toBe("second");
  expect(relay.tunnels().length).toBe(1);
});

test("an agent cannot set cookies on the relay's origin: Set-Cookie in its answer never reaches the client", async () => {
  // A relay serves many tunnels (and its chat page) from one origin: one tunnel's agent must not plant cookies there.
  // An honest daemon never sends one (the broker drops an upstream's); this agent is hand-written.
  const relay = await relayWith("max_streams = 8");
  await agent(relay, async () => new Response("{}", { headers: [["content-type", "application/json"], ["set-cookie", "session=planted; Path=/; Domain=127.0.0.1"], ["Set-Cookie", "b=2"]] }));
  const r = await call(relay, "/api/tags");
  expect(r.status).toBe(200);
  expect(r.headers.getSetCookie()).toEqual([]);
  expect(r.headers.get("content-type")).toBe("application/json");
  await r.body?.cancel();
});

test("a client's credentials and cookies stay at the relay: the agent never sees its Authorization, Cookie or Proxy-Authorization", async () => {
  // The agent is the user's machine, not the relay's: a client key (or a browser's cookies for the relay's origin) is
  // the relay's business. The daemon's filter drops them too; this agent is hand-written, so it shows the relay's side.
  const relay = await relayWith("max_streams = 8");
  const seen: [string, string][][] = [];
  await agent(relay, async (req) => (seen.push([...req.headers]), Response.json({})));
  const r = await call(relay, "/api/tags", { headers: { cookie: "relay_session=s3cret", "proxy-authorization": "Basic eDp5", "x-own": "kept" } });
  expect(r.status).toBe(200);
  await r.body?.cancel();
  expect(seen.length).toBe(1);
  const names = seen[0]!.map(([k]) => k.toLowerCase());
  expect(names).toContain("x-own");
  expect(names.filter((k) => ["authorization", "cookie", "proxy-authorization"].includes(k))).toEqual([]);
  expect(JSON.stringify(seen)).not.toContain(CLIENT);
});

test("an agent cannot send headers that act on the relay's whole origin (Clear-Site-Data, HSTS, NEL, Alt-Svc ...)", async () => {
  // They would wipe the storage of the chat page and every tunnel's browser clients, switch HSTS off or report visits
  // elsewhere; this agent is hand-written (an honest daemon's broker drops them from an upstream's answer already).
  const relay = await relayWith("max_streams = 8");
  const wide = [
    ["Clear-Site-Data", '"*"'],
    ["strict-transport-security", "max-age=0"],
    ["NEL", '{"report_to":"x","max_age":1}'],
    ["report-to", '{"group":"x","max_age":1,"endpoints":[{"url":"https://collector.invalid/"}]}'],
    ["reporting-endpoints", 'x="https://collector.invalid/"'],
    ["alt-svc", 'h2="collector.invalid:443"'],
  ] as [string, string][];
  await agent(relay, async () => new Response("{}", { headers: [["content-type", "application/json"], ["x-own", "kept"], ...wide] }));
  const r = await call(relay, "/api/tags");
  expect(r.status).toBe(200);
  expect(wide.map(([k]) => r.headers.get(k))).toEqual(wide.map(() => null));
  expect(r.headers.get("x-own")).toBe("kept");
  await r.body?.cancel();
});

test("relay shutdown sends go-away: in-flight requests finish, then agents are closed", async () => {
  const relay = await relayWith("max_streams = 8");
  const conn = await agent(relay, async () => {
    await Bun.sleep(200);
    return new Response("finished");
  });
  const inflight = call(relay, "/slow");
  await Bun.sleep(50);
  const stopped = relay.stop();
  open.relay = undefined;
  expect(await (await inflight).text()).toBe("finished");
  await stopped;
  expect((await conn.closed).code).not.toBe("heartbeat_timeout");
});

test("a client request the protocol cannot carry (path over 8 KiB) gets 400 and the tunnel stays up for everyone else", async () => {
  const relay = await relayWith("max_streams = 8");
  const conn = await agent(relay, async () => new Response("ok"));
  const long = await call(relay, "/" + "a".repeat(9000));
  expect(long.status).toBe(400);
  expect(await code(long)).toBe("bad_request");
  expect(conn.session!.closed).toBeNull();
  const next = await call(relay, "/api/tags");
  expect(next.status).toBe(200);
  expect(await next.text()).toBe("ok");
});

/** What a client call threw (null when it succeeded). */
async function thrown(p: Promise<unknown>): Promise<any> {
  try {
    await p;
    return null;
  } catch (e) {
    return e;
  }
}

test("the relay's limits, timeouts and shutdown reach the official clients as their real messages, in each one's shape", async () => {
  const relay = await relayWith("max_streams = 1\nmax_body_bytes = 1000");
  const gate = Promise.withResolvers<void>();
  await agent(relay, async (req) => {
    if (new URL(req.url).pathname === "/api/generate") await Bun.sleep(1_000); // past first_byte_timeout (300ms)
    if (new URL(req.url).pathname === "/hold") await gate.promise;
    return Response.json({ ok: true });
  });
  const ollama = new Ollama({ host: `${relay.url}/t/t`, headers: { Authorization: `Bearer ${CLIENT}` } });
  const openai = new OpenAI({ baseURL: `${relay.url}/t/t/v1`, apiKey: CLIENT, maxRetries: 0 });
  const chat = { model: "m", messages: [{ role: "user" as const, content: "hi" }] };

  // 413: Ollama's {"error": "..."}, so the ResponseError carries the sentence (before: "[object Object]").
  const big = await thrown(ollama.chat({ ...chat, messages: [{ role: "user", content: "x".repeat(2000) }] }));
  expect(big?.status_code).toBe(413);
  expect(big?.message).toMatch(/^the request body \(\d+ bytes\) is over this relay's limit of 1000 bytes$/);

  // 504 before the first byte.
  const slow = await thrown(ollama.generate({ model: "m", prompt: "hi" }));
  expect(slow?.status_code).toBe(504);
  expect(slow?.message).toBe("the agent sent no response within 300ms");

  // 429 over max_streams: OpenAI's RateLimitError with the stable code, the type and Retry-After.
  const holding = call(relay, "/hold");
  await Bun.sleep(50);
  const busy = await thrown(openai.chat.completions.create(chat));
  expect(busy).toBeInstanceOf(OpenAI.RateLimitError);
  expect(busy.message).toBe('429 tunnel "t" already has 1 requests in flight');
  expect(busy.code).toBe("rate_limited");
  expect(busy.type).toBe("rate_limit_error");
  expect(busy.headers.get("x-c2l-error-code")).toBe("rate_limited");
  expect(busy.headers.get("retry-after")).toBe("1");
  gate.resolve();
  expect((await holding).status).toBe(200);
  await Bun.sleep(20);

  // A restart: while the relay sends its agents away, a new call hears that the relay is shutting down.
  const gate2 = Promise.withResolvers<void>();
  await agent(relay, async () => (await gate2.promise, new Response("ok")));
  const inflight = call(relay, "/hold");
  await Bun.sleep(50);
  const stopped = relay.stop();
  open.relay = undefined;
  const down = await thrown(openai.chat.completions.create(chat));
  expect(down?.status).toBe(503);
  expect(down?.message).toBe("503 the relay is shutting down; retry in a moment");
  expect(down?.code).toBe("unavailable");
  const downOllama = await thrown(ollama.list());
  expect(downOllama?.message).toBe("the relay is shutting down; retry in a moment");
  gate2.resolve();
  expect((await inflight).status).toBe(200);
  await stopped;
});

test("a client key sent as x-api-key (no Authorization) stays at the relay; a gateway key in x-api-key beside a bearer key goes on to the agent", async () => {
  // docs/relay.md, Tokens: the relay never forwards x-api-key "unless it holds a gateway key (c2l_…) beside a bearer token".
  const relay = await relayWith("max_streams = 8");
  const seen: [string, string][][] = [];
  await agent(relay, async (req) => (seen.push([...req.headers]), Response.json({})));
  const gateway = "c2l_" + "A".repeat(43);
  for (const headers of [{ "x-api-key": CLIENT }, { authorization: `Bearer ${CLIENT}`, "x-api-key": gateway }] as Record<string, string>[]) {
    const r = await fetch(`${relay.url}/t/t/api/tags`, { headers });
    expect(r.status).toBe(200);
    await r.body?.cancel();
  }
  expect(seen.length).toBe(2);
  const apiKey = (h: [string, string][]) => h.find(([k]) => k.toLowerCase() === "x-api-key")?.[1] ?? null;
  expect(seen.map(apiKey)).toEqual([null, gateway]);
  expect(JSON.stringify(seen)).not.toContain(CLIENT);
});

test("an agent's own CORS headers never reach a browser: the relay alone decides which pages read a tunnel, and never allows credentials", async () => {
  // docs/relay.md, Calling the relay from a web app: "a local server's own CORS headers (an upstream answering
  // Access-Control-Allow-Origin: *) are dropped"; the relay "never sends Access-Control-Allow-Credentials".
  const relay = await relayWith("max_streams = 8", `[cors]\nallowed_origins = ["https://app.example.com"]\n`);
  await agent(relay, async () =>
    Response.json({ secret: "answer" }, {
      headers: {
        "access-control-allow-origin": "*",
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "x-internal",
        "access-control-allow-methods": "PROPFIND",
      },
    }),
  );
  const cors = async (origin?: string) => {
    const r = await call(relay, "/api/tags", { headers: origin ? { origin } : {} });
    expect(r.status).toBe(200);
    await r.body?.cancel();
    return Object.fromEntries([...r.headers].filter(([k]) => k.startsWith("access-control-")));
  };
  expect(await cors("https://evil.example.net")).toEqual({});
  expect(await cors()).toEqual({});
  expect(await cors("https://app.example.com")).toEqual({
    "access-control-allow-origin": "https://app.example.com",
    "access-control-expose-headers": "x-c2l-error-code, Retry-After, X-Should-Retry, X-Queue-Position, Server-Timing, X-Request-Id, Request-Id",
  });
});

test("what is no client key of the tunnel is refused and never reaches the agent: a key in the URL's query (400: never read from the URL), the agent's own token, the admin token, a Basic credential, two keys; a client key is no agent token", async () => {
  // docs/relay.md, Tokens: "An agent token is not a client key. Tokens in the URL are never read".
  const ADMIN = "limits-admin-token-0000";
  const relay = await relayWith("max_streams = 8", `admin_token_sha256 = "${hashToken(ADMIN)}"`);
  let asked = 0;
  await agent(relay, async () => (asked++, Response.json({ models: [] })));
  const tries: [string, string, Record<string, string>][] = [
    ["?token=", `/api/tags?token=${CLIENT}`, {}],
    ["?api_key=", `/api/tags?api_key=${CLIENT}`, {}],
    ["?key=", `/api/tags?key=${CLIENT}`, {}],
    ["the agent token", "/api/tags", { authorization: `Bearer ${AGENT}` }],
    ["the agent token in x-api-key", "/api/tags", { "x-api-key": AGENT }],
    ["the admin token", "/api/tags", { authorization: `Bearer ${ADMIN}` }],
    ["Basic", "/api/tags", { authorization: `Basic ${btoa(`x:${CLIENT}`)}` }],
    ["two keys", "/api/tags", { authorization: `Bearer ${AGENT}, Bearer ${CLIENT}` }],
  ];
  const got: Record<string, number> = {};
  for (const [what, path, headers] of tries) {
    const r = await fetch(`${relay.url}/t/t${path}`, { headers });
    await r.body?.cancel();
    got[what] = r.status;
  }
  expect(got).toEqual(Object.fromEntries(tries.map(([w, path]) => [w, path.includes("?") ? 400 : 401])));
  expect(asked).toBe(0);
  // The tunnel's own key still works (the refusals above are about the credential, not the tunnel).
  const ok = await call(relay, "/api/tags");
  expect(ok.status).toBe(200);
  await ok.body?.cancel();
  // A client key cannot connect as the tunnel's agent (it would take the tunnel's calls).
  const upgrade = { connection: "Upgrade", upgrade: "websocket", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };
  const asAgent = await fetch(`${relay.url}/agent`, { headers: { ...upgrade, authorization: `Bearer ${CLIENT}` } });
  await asAgent.body?.cancel();
  expect(asAgent.status).toBe(401);
  const inQuery = await fetch(`${relay.url}/agent?token=${AGENT}`, { headers: upgrade });
  await inQuery.body?.cancel();
  expect(inQuery.status).toBe(401);
  expect(relay.tunnels().map((t) => t.id)).toEqual(["t"]);
});
