// Unit tests for the route stage: the order comes from the request's own table, attempts follow max_attempts and
// whether the body can be sent twice, the claimant is the key's bucket, and no upstream is a recorded 502.
import { expect, test } from "bun:test";
import { kit, kitConfig, records, upstreams } from "../../../tests/helpers/pipeline-kit.ts";
import type { KeyRecord } from "../../core/contracts.ts";
import { route } from "./route.ts";

const names = (l: readonly { name: string }[]) => l.map((u) => u.name);

test("the order is the router's on the request's table: serving the model, then priority", () => {
  const k = kit(kitConfig(upstreams("a", "b", "c")));
  k.up("a").setModels(["other:1b"]);
  k.up("c").state = "down";
  const ex = k.exchange("/api/chat");
  ex.model = "m";
  expect(route(ex)).toBeNull();
  expect(names(ex.order)).toEqual(["b", "a", "c"]);
  expect(ex.attempts).toBe(3);
  expect(ex.claimant).toEqual({ bucket: "-local", keyLimit: 0, local: true });
});

test("attempts: at most [proxy] max_attempts, and one when the body cannot be sent twice", () => {
  const k = kit(kitConfig(upstreams("a", "b", "c"), "max_attempts = 2"));
  const ex = k.exchange("/api/chat");
  route(ex);
  expect(ex.attempts).toBe(2);
  const streamed = k.exchange("/api/chat");
  streamed.retryable = false;
  route(streamed);
  expect(streamed.attempts).toBe(1);
});

test("a key's requests wait in the key's bucket (the key's hash: a key made again under its name is another) with its max_parallel; tunnel callers after local ones", () => {
  const k = kit(kitConfig(upstreams("a")));
  const ex = k.exchange("/api/chat", { source: "tunnel" });
  ex.admitted = { key: { name: "ci", hash: "9f86d0", max_parallel: 3 } as KeyRecord, caller: "tunnel" };
  ex.caller = "tunnel";
  route(ex);
  expect(ex.claimant).toEqual({ bucket: "9f86d0", label: "ci", keyLimit: 3, local: false });
});

test("sticky: a conversation goes first to its upstream, the rest stay for failover", () => {
  const k = kit(kitConfig(upstreams("a", "b", "c"), "sticky = true"));
  const firsts = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const ex = k.exchange("/api/chat");
    ex.model = "m";
    ex.payload = new TextEncoder().encode(JSON.stringify({ model: "m", messages: [{ role: "user", content: `conversation ${i}` }] }));
    route(ex);
    expect(ex.order.length).toBe(3);
    firsts.add(ex.order[0]!.name);
    // The same conversation again: the same first upstream.
    const again = k.exchange("/api/chat");
    again.model = "m";
    again.payload = ex.payload;
    route(again);
    expect(again.order[0]).toBe(ex.order[0]!);
  }
  expect(firsts.size).toBeGreaterThan(1);
});

test("no upstream enabled: 502 no_upstream in the request's dialect, recorded for the inspector", async () => {
  const k = kit(kitConfig(upstreams("a") + "enabled = false\n"));
  const ex = k.exchange("/v1/chat/completions");
  const res = route(ex)!;
  expect(res.status).toBe(502);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe("no_upstream");
  expect(records(k).map((r) => [r.status, r.error])).toEqual([[502, "no upstream is enabled"]]);
});

test("Ollama's API before upstreams that all serve it, spelled as its route: no dialect plan is built (the hot path); otherwise one is", () => {
  const native = kit(kitConfig(upstreams("a", "b")));
  const plain = native.exchange("/api/generate");
  expect(route(plain)).toBeNull();
  expect(plain.dialectPlan).toBeNull();
  // Another spelling of the route: the plan sends the upstream the route itself.
  const spelled = native.exchange("/api/%67enerate");
  spelled.route = "/api/generate";
  route(spelled);
  expect(spelled.dialectPlan).not.toBeNull();
  // An upstream that needs the translation in the order: the plan decides per attempt.
  const mixed = kit(kitConfig(upstreams("a") + `[[upstreams]]\nname = "o"\nkind = "openai"\nurl = "http://127.0.0.1:9/o"\n`));
  const ex = mixed.exchange("/api/generate");
  route(ex);
  expect(ex.dialectPlan?.dialect).toBe("ollama");
});
