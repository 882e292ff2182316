// The watch over this node's calls at other nodes: aborting one node's calls leaves the others', a call that ended is
// no longer watched, and the client's own abort still reaches the hop.
import { expect, test } from "bun:test";
import { HopWatch } from "./hop-watch.ts";

test("a frozen node's calls are aborted with the reason; another node's and finished calls are not watched or touched", () => {
  const w = new HopWatch();
  const client = new AbortController();
  const a1 = w.open("n1", "http://a", client.signal);
  const a2 = w.open("n1", "http://a", new AbortController().signal);
  const b = w.open("n2", "http://b", new AbortController().signal);
  a2.close();
  expect(w.waitedOn()).toEqual([
    { node: "n1", url: "http://a", calls: 1 },
    { node: "n2", url: "http://b", calls: 1 },
  ]);
  expect(w.abort("n1", "the relay node n1 stopped answering")).toBe(1);
  expect(a1.signal.aborted).toBe(true);
  expect((a1.signal.reason as Error).message).toBe("the relay node n1 stopped answering");
  expect(a2.signal.aborted).toBe(false);
  expect(b.signal.aborted).toBe(false);
  a1.close();
  b.close();
  expect(w.waitedOn()).toEqual([]);
  expect(w.abort("n2", "gone")).toBe(0);
});

test("the client's abort reaches the watched hop", () => {
  const w = new HopWatch();
  const client = new AbortController();
  const h = w.open("n1", "http://a", client.signal);
  client.abort();
  expect(h.signal.aborted).toBe(true);
  h.close();
  expect(w.waitedOn()).toEqual([]);
});
