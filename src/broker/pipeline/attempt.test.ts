// Unit tests for the attempt stage: failover before the first byte (never back to a failed upstream), slots held and
// given back, keep_alive per upstream, queue refusals, and the per-attempt plan hook (request rewritten, reply wrapped).
import { expect, test } from "bun:test";
import { kit, kitConfig, records, reply, upstreams, type Kit } from "../../../tests/helpers/pipeline-kit.ts";
import { HttpError } from "../../core/http-error.ts";
import type { Exchange } from "../exchange.ts";
import { Gate } from "../gate.ts";
import type { UpstreamReply } from "../upstream-client.ts";
import type { Upstream } from "../upstream.ts";
import { attempt, firstGrant } from "./attempt.ts";
import { IDENTITY_PLAN, planFor, type AttemptPlan } from "./attempt-plan.ts";
import { route } from "./route.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const OK = () => reply(200, { "content-type": "application/json", "content-length": "2" }, ["{}"]);

function routed(k: Kit, path = "/api/chat", body: unknown = { model: "m", messages: [] }): Exchange {
  const ex = k.exchange(path);
  ex.model = "m";
  ex.payload = enc.encode(JSON.stringify(body));
  ex.payloadLength = (ex.payload as Uint8Array).byteLength;
  expect(route(ex)).toBeNull();
  return ex;
}
const gateOf = () => new Gate<Upstream>(() => ({ queueLimit: 0, queueTimeoutMs: 1000 }));

async function run(ex: Exchange, gate = gateOf(), plans?: (ex: Exchange, u: Upstream) => AttemptPlan) {
  const first = firstGrant(ex, gate);
  if (first instanceof Response) return first;
  return attempt(ex, gate, first, (_ex, r) => r, () => ex.table!, plans);
}

test("a 503 before the first byte is cancelled and the next upstream answers; the slot moves with the attempt", async () => {
  const busy = reply(503, {}, ["busy"]);
  const k = kit(kitConfig(upstreams("a", "b")), { a: [busy], b: [OK()] });
  const gate = gateOf();
  const ex = routed(k);
  const res = (await run(ex, gate)) as UpstreamReply;
  expect(res.status).toBe(200);
  expect(busy.cancelled).toBe(true);
  expect(k.clients.get("a")!.sent.length).toBe(1);
  expect(k.clients.get("b")!.sent.length).toBe(1);
  expect(gate.inFlight("a")).toBe(0);
  expect(gate.inFlight("b")).toBe(1);
  expect(k.up("a").metrics.snapshot().errors).toBe(1);
  ex.finish(null);
  expect(gate.inFlight("b")).toBe(0);
});

test("an upstream that cannot be reached is suspected (checked now) and failover goes on; the last 5xx is the client's", async () => {
  const k = kit(kitConfig(upstreams("a", "b")), { a: [new Error("ECONNREFUSED")], b: [reply(500, {}, ["no"])] });
  const res = (await run(routed(k))) as UpstreamReply;
  expect(res.status).toBe(500);
  expect(k.checks).toEqual(["a"]);
});

test("every attempt failing: 502 in the request's dialect naming each upstream's failure in order and the count, recorded; no slot left held", async () => {
  const k = kit(kitConfig(upstreams("a", "b")), { a: [new Error("ECONNREFUSED")], b: [new Error("ECONNRESET")] });
  const gate = gateOf();
  const res = (await run(routed(k, "/v1/chat/completions"), gate)) as Response;
  expect(res.status).toBe(502);
  const j = (await res.json()) as { error: { code: string; message: string } };
  expect(j.error.code).toBe("upstream_error");
  expect(j.error.message).toMatch(/^upstream "a" could not be reached: [^;]*; upstream "b" could not be reached: .*\(after trying 2 upstreams\)$/);
  expect(records(k).map((r) => r.status)).toEqual([502]);
  expect(gate.inFlight("a") + gate.inFlight("b")).toBe(0);
});

test("a 500 fails over like any 5xx (a model that crashed on one upstream is served by the next)", async () => {
  const crashed = reply(500, {}, ["model runner crashed"]);
  const k = kit(kitConfig(upstreams("a", "b")), { a: [crashed], b: [OK()] });
  const res = (await run(routed(k))) as UpstreamReply;
  expect(res.status).toBe(200);
  expect(crashed.cancelled).toBe(true);
  expect(k.clients.get("b")!.sent.length).toBe(1);
});

test("the broker stopping while an attempt fails: no failover, 503 with the reason (the request was never answered, the client may retry elsewhere)", async () => {
  const k = kit(kitConfig(upstreams("a", "b")), { a: [new Error("ECONNRESET")], b: [OK()] });
  const ex = routed(k);
  ex.stopReason = "the daemon is stopping";
  const res = (await run(ex)) as Response;
  expect(res.status).toBe(503);
  expect(((await res.json()) as { error: string }).error).toBe("the daemon is stopping");
  expect(k.clients.get("b")?.sent.length ?? 0).toBe(0);
});

test("[[upstreams]] keep_alive is written into the body sent to that upstream only; the target carries the query", async () => {
  const k = kit(kitConfig(upstreams("a") + `keep_alive = "-1"\n` + upstreams("b")), { a: [reply(502, {})], b: [OK()] });
  const ex = routed(k);
  ex.search = "?x=1";
  const payload = ex.payload;
  await run(ex);
  const [toA] = k.clients.get("a")!.sent;
  const [toB] = k.clients.get("b")!.sent;
  expect(JSON.parse(dec.decode(toA!.body as Uint8Array)).keep_alive).toBe(-1);
  expect(toA!.bodyLength).toBe((toA!.body as Uint8Array).byteLength);
  expect(toB!.body).toBe(payload);
  expect(toB!.target).toBe("/api/chat?x=1");
  // The answer is accepted: the Exchange no longer holds the body (a streaming answer would keep it alive).
  expect(ex.payload).toBeNull();
});

test("the plan hook: each attempt's plan rewrites what is sent to its upstream and wraps the reply handed on", async () => {
  const k = kit(kitConfig(upstreams("a", "b")), { a: [reply(503, {})], b: [OK()] });
  const asked: string[] = [];
  const translating: AttemptPlan = {
    request: (_ex, u, req) => ({ ...req, target: `/v1/chat/completions?for=${u.name}`, body: enc.encode("{}"), bodyLength: 2 }),
    reply: (_ex, _u, res) => ({ ...res, status: res.status, statusText: "", hasBody: res.hasBody, header: (n: string) => (n === "x-wrapped" ? "yes" : res.header(n)), clientHeaders: () => res.clientHeaders(), bytes: () => res.bytes(), read: () => res.read(), cancel: () => res.cancel() }),
  };
  const plans = (_ex: Exchange, u: Upstream) => (asked.push(u.name), u.name === "b" ? translating : IDENTITY_PLAN);
  const res = (await run(routed(k, "/v1/messages"), gateOf(), plans)) as UpstreamReply;
  expect(asked).toEqual(["a", "b"]);
  expect(k.clients.get("a")!.sent[0]!.target).toBe("/v1/messages");
  expect(k.clients.get("b")!.sent[0]!.target).toBe("/v1/chat/completions?for=b");
  expect(k.clients.get("b")!.sent[0]!.bodyLength).toBe(2);
  expect(res.header("x-wrapped")).toBe("yes");
  // The identity plan is the default (a route with no dialect plan), and hands request and reply over as they are.
  const ex = routed(k, "/v1/chat/completions");
  const req = { method: "POST", target: "/", headers: null, body: null, bodyLength: -1, signal: new AbortController().signal };
  expect(planFor(ex, k.up("a")).request(ex, k.up("a"), req)).toBe(req);
});

test("a plan that refuses the request (HttpError) ends it in the request's dialect, without trying another upstream", async () => {
  const k = kit(kitConfig(upstreams("a", "b")), { a: [OK()], b: [OK()] });
  const refusing: AttemptPlan = {
    request: () => {
      throw new HttpError("bad_request", "this body cannot be translated");
    },
    reply: (_ex, _u, r) => r,
  };
  const res = (await run(routed(k, "/v1/chat/completions"), gateOf(), () => refusing)) as Response;
  expect(res.status).toBe(400);
  expect(((await res.json()) as { error: { message: string } }).error.message).toBe("this body cannot be translated");
  expect(k.clients.get("a")!.sent.length + k.clients.get("b")!.sent.length).toBe(0);
  expect(records(k).map((r) => r.status)).toEqual([400]);
});

test("a failover to an upstream whose plan refuses the request: the first upstream's failure is the answer, naming both, not a 400", async () => {
  const k = kit(kitConfig(upstreams("a", "b")), { a: [reply(503, {}, ["busy"])], b: [OK()] });
  const refusingB = (_ex: Exchange, u: Upstream): AttemptPlan =>
    u.name === "b"
      ? {
          request: () => {
            throw new HttpError("bad_request", "generate's raw cannot be translated");
          },
          reply: (_e, _u, r) => r,
        }
      : IDENTITY_PLAN;
  const gate = gateOf();
  const res = (await run(routed(k, "/api/generate"), gate, refusingB)) as Response;
  expect(res.status).toBe(502);
  expect(((await res.json()) as { error: string }).error).toBe(`upstream "a" answered 503; upstream "b" cannot take this request: generate's raw cannot be translated (after trying 2 upstreams)`);
  expect(k.clients.get("b")!.sent.length).toBe(0);
  expect(records(k).map((r) => r.status)).toEqual([502]);
  expect(gate.inFlight("a") + gate.inFlight("b")).toBe(0);
});

test("no free slot and no queue: 429 in the request's dialect with Retry-After, recorded", async () => {
  const k = kit(kitConfig(upstreams("a") + "max_parallel = 1\n"), { a: [OK()] });
  const gate = gateOf();
  const holder = routed(k);
  expect(firstGrant(holder, gate)).not.toBeInstanceOf(Response);
  const res = (await run(routed(k, "/v1/chat/completions"), gate)) as Response;
  expect(res.status).toBe(429);
  expect(res.headers.get("retry-after")).toBe("1");
  expect(((await res.json()) as { error: { type: string } }).error.type).toBe("rate_limit_error");
  expect(records(k).map((r) => r.status)).toEqual([429]);
});
