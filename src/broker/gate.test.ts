import { expect, test } from "bun:test";
import { HttpError } from "../core/http-error.ts";
import { Gate, Rerouted, type Claimant, type Grant } from "./gate.ts";

const up = (name: string, maxParallel: number) => ({ name, maxParallel });
const who = (bucket: string, local = true, keyLimit = 0): Claimant => ({ bucket, keyLimit, local });
const gate = (queueLimit = 100, queueTimeoutMs = 60_000) => new Gate<ReturnType<typeof up>>(() => ({ queueLimit, queueTimeoutMs }));

test("without limits a slot is granted at once, synchronously", () => {
  const g = gate();
  const r = g.acquire([up("a", 0)], who("k"), null);
  expect(r).toEqual({ upstream: up("a", 0), position: 0, waitedMs: 0 });
});

test("max_parallel 1: the second waits and gets the slot the first gives back; a free second upstream takes overflow", async () => {
  const g = gate();
  const a = up("a", 1);
  const b = up("b", 1);
  const first = g.acquire([a], who("k"), null) as Grant<typeof a>;
  expect(first.upstream).toBe(a);
  const second = g.acquire([a], who("k"), null);
  expect(second).toBeInstanceOf(Promise);
  expect(g.length).toBe(1);
  // Another request that may use b is not held behind the one waiting for a.
  const other = g.acquire([a, b], who("j"), null);
  expect((await other).upstream).toBe(b);
  g.release(a, who("k"));
  const got = await second;
  expect([got.upstream, got.position]).toEqual([a, 1]);
  expect(g.inFlight("a")).toBe(1);
});

/** One upstream with one slot, already taken; `wait` queues a request and records when it got the slot. */
function oneBusySlot() {
  const g = gate();
  const a = up("a", 1);
  g.acquire([a], who("x"), null);
  const order: string[] = [];
  const wait = (c: Claimant, name: string) => (g.acquire([a], c, null) as Promise<Grant<typeof a>>).then(() => void order.push(name));
  return { g, a, order, wait };
}

test("fair across keys: with one key flooding, another key's request waits at most one slot", async () => {
  const { g, a, order, wait } = oneBusySlot();
  const flood = Array.from({ length: 10 }, (_, i) => wait(who("flood"), `flood${i}`));
  const editor = wait(who("editor"), "editor");
  for (let i = 0; i < 11; i++) {
    g.release(a, who("x"));
    await Bun.sleep(0);
  }
  await Promise.all([...flood, editor]);
  expect(order.indexOf("editor")).toBeLessThanOrEqual(1);
});

test("the bucket served longest ago goes next: a key that got its slot without waiting goes behind one that never had one", async () => {
  const g = gate();
  const a = up("a", 1);
  g.acquire([a], who("flood"), null); // the flood takes the free slot at once
  const order: string[] = [];
  const wait = (c: Claimant, name: string) => (g.acquire([a], c, null) as Promise<unknown>).then(() => void order.push(name));
  const flood = [wait(who("flood"), "flood1"), wait(who("flood"), "flood2")];
  const editor = wait(who("editor"), "editor");
  for (let i = 0; i < 3; i++) {
    g.release(a, who("flood"));
    await Bun.sleep(0);
  }
  await Promise.all([...flood, editor]);
  expect(order).toEqual(["editor", "flood1", "flood2"]);
});

test("between buckets never served, this machine's callers go before the tunnel's; a key's own max_parallel holds its requests back", async () => {
  const { g, a, order, wait } = oneBusySlot();
  const remote = wait(who("t", false), "tunnel");
  const local = wait(who("l", true), "local");
  g.release(a, who("x"));
  await Bun.sleep(0);
  g.release(a, who("l"));
  await Promise.all([remote, local]);
  expect(order).toEqual(["local", "tunnel"]);

  const free = up("free", 0);
  const k = who("capped", true, 1);
  g.acquire([free], k, null);
  const held = g.acquire([free], k, null);
  expect(held).toBeInstanceOf(Promise);
  g.release(free, k);
  expect((await held).upstream).toBe(free);
});

test("a flood on this machine cannot starve a caller through the tunnel, nor the reverse: each waits at most one slot", async () => {
  for (const floodLocal of [true, false]) {
    const { g, a, order, wait } = oneBusySlot();
    const flood = Array.from({ length: 10 }, (_, i) => wait(who("flood", floodLocal), `flood${i}`));
    const editor = wait(who("editor", !floodLocal), "editor");
    for (let i = 0; i < 11; i++) {
      g.release(a, who("x"));
      await Bun.sleep(0);
    }
    await Promise.all([...flood, editor]);
    expect({ floodLocal, editorWithinOneSlot: order.indexOf("editor") <= 1 }).toEqual({ floodLocal, editorWithinOneSlot: true });
  }
});

test("a client that goes away leaves the queue at once; a full queue is 429; a long wait is 503", async () => {
  const g = gate(1, 50);
  const a = up("a", 1);
  g.acquire([a], who("k"), null);
  const ac = new AbortController();
  const gone = g.acquire([a], who("k"), ac.signal) as Promise<unknown>;
  expect(() => g.acquire([a], who("k"), null)).toThrow(HttpError); // queue_limit 1: full
  ac.abort();
  await expect(gone).rejects.toThrow("the client went away while queued");
  expect(g.length).toBe(0);
  g.release(a, who("k"));
  expect(g.inFlight("a")).toBe(0); // the slot went to nobody
  g.acquire([a], who("k"), null);
  const late = g.acquire([a], who("k"), null) as Promise<unknown>;
  const e = (await late.catch((x: unknown) => x)) as HttpError;
  expect([e.status, e.code]).toEqual([503, "unavailable"]);
  expect(e.message).toContain("queue_timeout");
});

test("one key's flood cannot lock another key out: a key with nothing waiting always gets a place, a key over its share gets the 429", async () => {
  const g = gate(6);
  const a = up("a", 1);
  g.acquire([a], who("flood"), null);
  // Alone, the flood may take every place (its share is all of them); the seventh is refused.
  const flood = Array.from({ length: 6 }, () => (g.acquire([a], who("flood"), null) as Promise<Grant<typeof a>>).catch(() => null));
  expect(g.length).toBe(6);
  expect(() => g.acquire([a], who("flood"), null)).toThrow("the broker's queue is full (6 requests wait");
  // The editor, with nothing waiting, gets a place in the full queue, and the slot after the one in flight.
  const editor = g.acquire([a], who("editor"), null) as Promise<Grant<typeof a>>;
  expect(g.length).toBe(7);
  // Now two keys wait: the flood's share is 3 of the 6 places and it holds 6, so it is refused, naming its share...
  let e: unknown = null;
  try {
    g.acquire([a], who("flood"), null);
  } catch (x) {
    e = x;
  }
  expect(e).toBeInstanceOf(HttpError);
  expect([(e as HttpError).status, (e as HttpError).code]).toEqual([429, "rate_limited"]);
  expect((e as HttpError).message).toBe('the broker\'s queue is full for the API key "flood": 6 of its requests wait, its share of the 6 places while 2 keys wait; retry shortly');
  // ...and a second editor request (the editor already waits) is refused while the queue is over its limit.
  expect(() => g.acquire([a], who("editor"), null)).toThrow("the broker's queue is full (6 requests wait");
  g.release(a, who("flood"));
  expect((await editor).position).toBe(7);
  // Once the editor is served and the flood drained, the flood alone may queue again (its share is the whole queue).
  for (let i = 0; i < 4; i++) g.release(a, who("x"));
  await Bun.sleep(0);
  expect(g.length).toBe(2);
  const more = g.acquire([a], who("flood"), null) as Promise<unknown>;
  expect(more).toBeInstanceOf(Promise);
  for (let i = 0; i < 3; i++) g.release(a, who("x"));
  await Promise.all([...flood, more]);
  expect(g.length).toBe(0);
});

test("callers without a key share a bucket per class, named as such when over their share", async () => {
  const g = gate(2);
  const a = up("a", 1);
  g.acquire([a], who("x"), null);
  const queued = [g.acquire([a], who("-lan"), null), g.acquire([a], who("k"), null)] as Promise<unknown>[];
  expect(() => g.acquire([a], who("-lan"), null)).toThrow("the broker's queue is full for callers without a key: 1 of its requests wait");
  for (let i = 0; i < 2; i++) g.release(a, who("x"));
  await Promise.all(queued);
});

test("the queue's total stays bounded: queue_limit plus one place per other key that arrived when it was full; queue_limit 0 queues nothing", () => {
  const g = gate(4, 20);
  const a = up("a", 1);
  g.acquire([a], who("x"), null);
  // Left to time out (20 ms) after the test.
  const keep = (p: unknown) => (p as Promise<unknown>).catch(() => {});
  for (let i = 0; i < 4; i++) keep(g.acquire([a], who("flood"), null));
  for (let k = 0; k < 3; k++) {
    keep(g.acquire([a], who(`k${k}`), null));
    // A newcomer gets one place, never a second while the queue is over its limit.
    expect(() => g.acquire([a], who(`k${k}`), null)).toThrow(HttpError);
    expect(() => g.acquire([a], who("flood"), null)).toThrow(HttpError);
  }
  expect(g.length).toBe(4 + 3);

  const none = gate(0);
  none.acquire([a], who("x"), null);
  expect(() => none.acquire([a], who("editor"), null)).toThrow("the broker's queue is full (0 requests wait");
});

test("the queue's wait time counts every request that waited: one that timed out and one whose client left too, not only those served", async () => {
  let now = 0;
  const g = new Gate<ReturnType<typeof up>>(() => ({ queueLimit: 10, queueTimeoutMs: 50 }), () => now);
  const a = up("a", 1);
  g.acquire([a], who("x"), null);
  const timedOut = (g.acquire([a], who("k"), null) as Promise<unknown>).catch((e) => e);
  const client = new AbortController();
  const left = (g.acquire([a], who("j"), client.signal) as Promise<unknown>).catch((e) => e);
  now = 30;
  client.abort();
  expect(await left).toBeInstanceOf(DOMException);
  now = 80;
  expect(await timedOut).toBeInstanceOf(HttpError);
  expect(g.stats).toEqual({ queued: 2, waitedMs: 30 + 80, refusedFull: 0, timedOut: 1 });
});

test("close (the daemon stopping): every waiter in either class gets the reason at once, later ones too, and a freed slot goes to no one", async () => {
  const { g, a, order, wait } = oneBusySlot();
  const reasons: unknown[] = [];
  const waiters = [wait(who("k"), "k"), wait(who("j", false), "j"), wait(who("k"), "k2")].map((p) => p.catch((e) => void reasons.push(e)));
  expect(g.length).toBe(3);
  const why = new HttpError("unavailable", "the daemon is stopping");
  expect(g.close(why)).toBe(3);
  await Promise.all(waiters);
  expect(reasons).toEqual([why, why, why]);
  expect(g.length).toBe(0);
  expect(() => g.acquire([a], who("late"), null)).toThrow(why);
  g.release(a, who("x"));
  expect(order).toEqual([]);
  // A free slot is still granted without waiting: the listener closes soon, and endStreams ends what runs.
  expect((g.acquire([a], who("late"), null) as Grant<typeof a>).upstream).toBe(a);
});

test("a request for a free upstream is not held behind one of its own bucket waiting for a busy one (another model, no limit)", async () => {
  const g = gate();
  const a = up("a", 1);
  const b = up("b", 0);
  g.acquire([a], who("-local"), null);
  const second = g.acquire([a], who("-local"), null);
  expect(second).toBeInstanceOf(Promise);
  // The same caller asks for a model only b serves, b without a limit: it goes at once, not after a's generation.
  const other = g.acquire([b], who("-local"), null);
  expect(other).toEqual({ upstream: b, position: 0, waitedMs: 0 });
  // Behind a waiter of its bucket, a waiter whose upstream frees first is not held either.
  const c = up("c", 1);
  g.acquire([c], who("-local"), null);
  const third = g.acquire([c], who("-local"), null) as Promise<Grant<typeof c>>;
  g.release(c, who("-local"));
  expect((await third).upstream).toBe(c);
  expect(g.length).toBe(1);
  g.release(a, who("-local"));
  expect((await second).upstream).toBe(a);
});

test("reroute (a reload): every waiter leaves with Rerouted in the order it waited, and waiting again with its start keeps its queue_timeout", async () => {
  let now = 0;
  const g = new Gate<ReturnType<typeof up>>(() => ({ queueLimit: 1, queueTimeoutMs: 60_000 }), () => now);
  const a = up("a", 1);
  g.acquire([a], who("x"), null);
  const first = g.acquire([a], who("k"), null) as Promise<unknown>;
  now = 300;
  const second = g.acquire([a], who("j"), null) as Promise<unknown>;
  const next = { version: 2 };
  expect(g.reroute(next)).toBe(2);
  expect(g.length).toBe(0);
  const e1 = (await first.catch((e) => e)) as Rerouted<typeof next>;
  const e2 = (await second.catch((e) => e)) as Rerouted<typeof next>;
  expect([e1 instanceof Rerouted, e1.next, e1.since, e2.since]).toEqual([true, next, 0, 300]);
  // Back in the queue with its start (its place taken again whatever queue_limit says), counted once: at 60 s on the
  // gate's clock it has waited its whole queue_timeout, so it is refused now, not 60 s from now.
  const queued = g.stats.queued;
  now = 60_000;
  const again = g.acquire([a], who("k"), null, e1.since) as Promise<unknown>;
  expect(g.stats.queued).toBe(queued);
  expect(((await again.catch((e) => e)) as HttpError).message).toContain("queue_timeout");
});

test("refuseBucket: a revoked key's waiting requests (here and through the tunnel) leave the queue with the reason now; the others keep their turn", async () => {
  const g = gate();
  const a = up("a", 1);
  g.acquire([a], who("x"), null);
  const why = new HttpError("unauthorized", "revoked");
  const outcome = (p: Grant<typeof a> | Promise<Grant<typeof a>>) => (p as Promise<Grant<typeof a>>).then(() => "granted", (e) => e);
  const revokedHere = outcome(g.acquire([a], who("gone"), null));
  const other = outcome(g.acquire([a], who("kept"), null));
  const revokedRemote = outcome(g.acquire([a], who("gone", false), null));
  expect(g.length).toBe(3);
  expect(g.refuseBucket("gone", why)).toBe(2);
  expect([await revokedHere, await revokedRemote]).toEqual([why, why]);
  expect(g.length).toBe(1);
  g.release(a, who("x"));
  expect(await other).toBe("granted");
  expect(g.refuseBucket("nobody", why)).toBe(0);
});
