// Unit tests for the choice of upstream: state, model, priority, then latency.
import { describe, expect, test } from "bun:test";
import { conversationKey, routeOrder, stickyFirst } from "./router.ts";
import { Upstream } from "./upstream.ts";

function up(name: string, priority: number, state: Upstream["state"], models: string[], ewma: number | null = null, enabled = true, kind: "ollama" | "llamacpp" = "ollama"): Upstream {
  const u = new Upstream({ name, kind, url: "http://127.0.0.1:1", priority, enabled, connect_timeout: "1s", first_byte_timeout: "1s", stream_idle_timeout: "5m", keep_alive: "", max_parallel: 0, auth_secret: "", auth_header: "Authorization", auth_scheme: "Bearer", ca_file: "", tls_insecure: false }, 60_000);
  u.state = state;
  u.setModels(models);
  u.ewmaMs = ewma;
  return u;
}
const names = (l: readonly Upstream[]) => l.map((u) => u.name);

describe("router", () => {
  test("an upstream that runs its one model whatever the request names (llama.cpp) gets no unlisted model for a key with a model list; for others it is a fallback", () => {
    const ollama = up("ollama", 9, "up", ["m:latest"]);
    const cpp = up("cpp", 1, "up", ["coder:32b"], null, true, "llamacpp");
    // m is Ollama's: for a key with a model list llama.cpp (which would run coder) is not tried, even while Ollama is down...
    expect(names(routeOrder([ollama, cpp], "m", true))).toEqual(["ollama"]);
    ollama.state = "down";
    expect(names(routeOrder([ollama, cpp], "m", true))).toEqual(["ollama"]);
    // ...for other callers it is the fallback the config set up: after the upstream that lists the model, before it once that one is down.
    expect(names(routeOrder([ollama, cpp], "m"))).toEqual(["cpp", "ollama"]);
    ollama.state = "up";
    expect(names(routeOrder([ollama, cpp], "m"))).toEqual(["ollama", "cpp"]);
    // A name nobody lists: as the servers would answer it directly (Ollama 404s, llama.cpp runs its model)…
    expect(names(routeOrder([ollama, cpp], "gpt-4o"))).toEqual(["cpp", "ollama"]);
    // …but never llama.cpp for a key with a model list, alone or not.
    expect(names(routeOrder([ollama, cpp], "gpt-4o", true))).toEqual(["ollama"]);
    expect(names(routeOrder([cpp], "gpt-4o", true))).toEqual([]);
    expect(names(routeOrder([cpp], "gpt-4o"))).toEqual(["cpp"]);
    expect(names(routeOrder([cpp], "coder:32b", true))).toEqual(["cpp"]);
    expect(names(routeOrder([ollama, cpp], null, true))).toEqual(["cpp", "ollama"]);
  });
  test("up and serving the model first, then priority, then lowest recent latency", () => {
    const list = [up("slow", 1, "up", ["m:latest"], 50), up("fast", 1, "up", ["m:latest"], 5), up("low", 9, "up", ["m:latest"]), up("other", 0, "up", ["x:1b"])];
    expect(names(routeOrder(list, "m"))).toEqual(["fast", "slow", "low", "other"]);
  });
  test("down upstreams go last, disabled ones never", () => {
    const list = [up("d", 0, "down", ["m:latest"]), up("u", 5, "up", ["m:latest"]), up("off", 0, "up", ["m:latest"], null, false), up("new", 3, "unknown", [])];
    expect(names(routeOrder(list, "m:latest"))).toEqual(["u", "new", "d"]);
    expect(names(routeOrder(list, null))).toEqual(["u", "new", "d"]);
  });
  test("warm first: among eligible upstreams the one with the model loaded goes before priority and latency", () => {
    const cold = up("cold", 1, "up", ["m:latest", "n:latest"], 5);
    const hot = up("hot", 9, "up", ["m:latest", "n:latest"], 50);
    hot.setLoaded(["m:latest"]);
    expect(names(routeOrder([cold, hot], "m"))).toEqual(["hot", "cold"]);
    expect(names(routeOrder([cold, hot], "n"))).toEqual(["cold", "hot"]); // n is loaded nowhere: priority decides
    // A warm upstream that is down still goes last.
    hot.state = "down";
    expect(names(routeOrder([cold, hot], "m"))).toEqual(["cold", "hot"]);
  });
  test("load-aware: a free slot before priority; full ones by queue per slot; our requests in flight count between reports", () => {
    // "small" is preferred by priority but has 1 slot; "big" has 4 (llama.cpp /slots, read by the health check).
    const small = up("small", 1, "up", ["m:latest"]);
    const big = up("big", 2, "up", ["m:latest"]);
    const inflight = new Map<string, number>([["small", 0], ["big", 0]]);
    for (const u of [small, big]) u.inFlight = () => inflight.get(u.name)!;
    small.setCapacity({ slots: 1, busy: 0 });
    big.setCapacity({ slots: 4, busy: 0 });
    // Both free: priority decides.
    expect(names(routeOrder([small, big], "m"))).toEqual(["small", "big"]);
    // One request of ours on "small" since the report: it is full, "big" has room.
    inflight.set("small", 1);
    expect(names(routeOrder([small, big], "m"))).toEqual(["big", "small"]);
    // Both full: the shorter queue per slot first. small: 2 on 1 slot → (2-1+1)/1 = 2; big: 5 on 4 → (5-4+1)/4 = 0.5.
    inflight.set("small", 2);
    inflight.set("big", 5);
    expect(names(routeOrder([small, big], "m"))).toEqual(["big", "small"]);
    // big: 9 on 4 → 1.5 < 2 still; 13 on 4 → 2.5 > 2: small's one slot has the shorter queue.
    inflight.set("big", 13);
    expect(names(routeOrder([small, big], "m"))).toEqual(["small", "big"]);
    // Another client's load the server reported (busy 4 while none of ours were there) counts as well.
    inflight.set("small", 0);
    inflight.set("big", 0);
    big.setCapacity({ slots: 4, busy: 4 });
    small.setCapacity({ slots: 1, busy: 0 });
    expect(names(routeOrder([small, big], "m"))).toEqual(["small", "big"]);
    inflight.set("small", 1);
    // small: 1 on 1 slot → (1-1+1)/1 = 1; big: 4 foreign on 4 → 1/4: big's queue per slot is shorter.
    expect(names(routeOrder([small, big], "m"))).toEqual(["big", "small"]);
  });
  test("load-aware: warm still goes first; an upstream that reports no load counts as having room; vLLM's queue means full", () => {
    const cold = up("cold", 1, "up", ["m:latest"]);
    const hot = up("hot", 2, "up", ["m:latest"]);
    hot.setLoaded(["m:latest"]);
    hot.setCapacity({ slots: 1, busy: 1 });
    expect(names(routeOrder([cold, hot], "m"))).toEqual(["hot", "cold"]); // loaded beats free
    const quiet = up("quiet", 2, "up", ["m:latest"]); // Ollama/openai: no capacity reported
    const queued = up("queued", 1, "up", ["m:latest"]); // vLLM: running 8, waiting 3
    queued.setCapacity({ busy: 8, waiting: 3 });
    expect(names(routeOrder([queued, quiet], "m"))).toEqual(["quiet", "queued"]);
    queued.setCapacity({ busy: 8, waiting: 0 });
    expect(names(routeOrder([queued, quiet], "m"))).toEqual(["queued", "quiet"]);
  });
  test("a request of ours that ended while the server was read is not taken for another client's load", () => {
    const u = up("u", 1, "up", ["m:latest"]);
    let own = 1;
    u.inFlight = () => own;
    // The read was sent with one of ours running; the server counted it (busy 1); it ended before the answer came back.
    const ownBefore = u.inFlight();
    own = 0;
    u.setCapacity({ slots: 1, busy: 1 }, ownBefore);
    expect(u.pressure()).toBe(0);
    // Without that, the one slot would look taken by someone else until the next check.
    u.setCapacity({ slots: 1, busy: 1 }, 0);
    expect(u.pressure()).toBe(1);
    expect(u.status().capacity).toMatchObject({ slots: 1, busy: 1, waiting: null });
    expect(u.status().inFlight).toBe(0);
    // A report that has outlived its time (the server stopped reporting) no longer holds the slot: only ours count.
    u.loadTtlMs = -1;
    expect(u.pressure()).toBe(0);
    own = 1;
    expect(u.pressure()).toBe(1);
  });
  test("degraded still serves", () => {
    expect(names(routeOrder([up("a", 2, "degraded", ["m:latest"]), up("b", 1, "down", ["m:latest"])], "m"))).toEqual(["a", "b"]);
  });
});

describe("sticky routing", () => {
  test("one conversation, one upstream; an upstream leaving moves only its own conversations; down or not serving is never picked", () => {
    const ups = ["u1", "u2", "u3"].map((n) => up(n, 1, "up", ["m:latest"]));
    const pick = (list: Upstream[], c: string) => stickyFirst(routeOrder(list, "m"), "m", c)[0]!.name;
    const convs = Array.from({ length: 30 }, (_, i) => `conversation ${i}`);
    const before = new Map(convs.map((c) => [c, pick(ups, c)]));
    expect(new Set(before.values()).size).toBe(3);
    const without = ups.filter((u) => u.name !== "u2");
    for (const c of convs) if (before.get(c) !== "u2") expect(pick(without, c)).toBe(before.get(c)!);
    ups[0]!.state = "down";
    for (const c of convs) expect(pick(ups, c)).not.toBe("u1");
    expect(stickyFirst(routeOrder(ups, "m"), "m", "x")).toHaveLength(3); // the others stay behind for failover
  });
  test("the conversation is its first two messages, or the start of a prompt", () => {
    const sys = { role: "system", content: "s" };
    const q = { role: "user", content: "q" };
    expect(conversationKey({ messages: [sys, q, { role: "assistant", content: "a" }] })).toBe(conversationKey({ messages: [sys, q] }));
    expect(conversationKey({ prompt: "p".repeat(600) })).toHaveLength(512);
    expect(conversationKey({ model: "m" })).toBeNull();
  });
});

test("status never shows credentials from an upstream URL", () => {
  const u = new Upstream({ name: "c", kind: "ollama", url: "https://user:pa55word@cloud.example/ollama/", priority: 1, enabled: true, connect_timeout: "1s", first_byte_timeout: "1s", stream_idle_timeout: "5m", keep_alive: "", max_parallel: 0, auth_secret: "", auth_header: "Authorization", auth_scheme: "Bearer", ca_file: "", tls_insecure: false }, 60_000);
  // The one URL redaction (core/redact-url.ts): the password is hidden, the rest shown as configured.
  expect(u.status().url).toBe("https://user:redacted@cloud.example/ollama");
  expect(JSON.stringify(u.status())).not.toContain("pa55word");
  expect(u.base).toBe("https://user:pa55word@cloud.example/ollama");
});
