// Unit tests for the routing table: one immutable object per config version; unchanged upstreams carried over as the
// same objects, changed ones rebuilt, removed ones handed back to retire; a retired upstream gets a one-off client.
import { expect, test } from "bun:test";
import { kitConfig, upstreams } from "../../tests/helpers/pipeline-kit.ts";
import type { UpstreamConfig } from "../config/schema.ts";
import type { HealthMonitor } from "./health-monitor.ts";
import { emptyTable, nextTable, type UpstreamEntry } from "./routing-table.ts";
import type { UpstreamClient } from "./upstream-client.ts";
import { Upstream } from "./upstream.ts";

const opened: string[] = [];
const open = (c: UpstreamConfig): UpstreamEntry => {
  opened.push(c.name);
  const client = { send: async () => Promise.reject(new Error("unused")), close() {} } as UpstreamClient;
  return { upstream: new Upstream(c, 60_000), monitor: { check: async () => {} } as unknown as HealthMonitor, client, fetch, session: null };
};

test("a reload keeps unchanged upstreams (same objects), rebuilds changed ones and hands back the ones to retire", () => {
  opened.length = 0;
  const v1 = kitConfig(upstreams("a", "b", "c") + `[[aliases]]\nname = "x"\nmodel = "a1"\n`);
  const first = nextTable(emptyTable(v1), v1, open);
  expect(opened).toEqual(["a", "b", "c"]);
  expect(first.retired).toEqual([]);
  const t1 = first.table;
  const v2 = kitConfig(upstreams("a") + `[[upstreams]]\nname = "b"\nurl = "http://127.0.0.1:9/b"\npriority = 7\n` + upstreams("d") + `[[aliases]]\nname = "x"\nmodel = "a2"\n`, "max_attempts = 1");
  opened.length = 0;
  const { table: t2, retired, reconfigured } = nextTable(t1, v2, open);
  expect(opened).toEqual(["b", "d"]);
  expect(t2.version).toBe(t1.version + 1);
  expect(t2.upstreams.map((u) => u.name)).toEqual(["a", "b", "d"]);
  expect(t2.upstreams[0]).toBe(t1.upstreams[0]!);
  expect(t2.upstreams[1]).not.toBe(t1.upstreams[1]!);
  expect(retired.map((e) => e.upstream.name).sort()).toEqual(["b", "c"]);
  expect([...reconfigured]).toEqual(["b"]);
  // Each version answers for itself: the old table is untouched by the new one.
  expect(t1.aliases.get("x")?.model).toBe("a1");
  expect(t2.aliases.get("x")?.model).toBe("a2");
  expect(t1.upstreams.map((u) => u.name)).toEqual(["a", "b", "c"]);
  expect(t1.maxAttempts).not.toBe(1);
  expect(t2.maxAttempts).toBe(1);
});

test("a table cannot be changed in place", () => {
  const c = kitConfig(upstreams("a"));
  const t = nextTable(emptyTable(c), c, open).table;
  expect(Object.isFrozen(t)).toBe(true);
  expect(Object.isFrozen(t.queue)).toBe(true);
  expect(() => ((t as { sticky: boolean }).sticky = true)).toThrow();
  expect(() => ((t as { upstreams: readonly Upstream[] }).upstreams = [])).toThrow();
});

test("a new metrics window rebuilds every upstream (their windows are sized by it)", () => {
  const c = kitConfig(upstreams("a"));
  const t = nextTable(emptyTable(c), c, open).table;
  const c2 = kitConfig(upstreams("a") + `[metrics]\nwindow = "10m"\n`);
  const n = nextTable(t, c2, open);
  expect(n.table.upstreams[0]).not.toBe(t.upstreams[0]!);
  expect(n.retired.length).toBe(1);
});

test("clientFor: the pooled client of its own upstream; a one-off client once that upstream is retired", () => {
  const c = kitConfig(upstreams("a"));
  const t = nextTable(emptyTable(c), c, open).table;
  const u = t.upstreams[0]!;
  expect(t.clientFor(u)).toBe(t.entries.get("a")!.client);
  u.retired = true;
  expect(t.clientFor(u)).not.toBe(t.entries.get("a")!.client);
});

test("a rebuilt upstream keeps its request and error totals (they count since the daemon started), through an edit and a new metrics window, and the requests still running on the old objects count there when they end", () => {
  const c = kitConfig(upstreams("a"));
  const t = nextTable(emptyTable(c), c, open).table;
  t.upstreams[0]!.metrics.recordRequest(10, 5, false, 100);
  t.upstreams[0]!.metrics.recordRequest(10, null, true, 0);
  const edited = nextTable(t, kitConfig(`[[upstreams]]\nname = "a"\nurl = "http://127.0.0.1:9/a"\npriority = 7\n`), open).table;
  expect(edited.upstreams[0]).not.toBe(t.upstreams[0]!);
  edited.upstreams[0]!.metrics.recordRequest(10, 5, false, 100);
  const rewindowed = nextTable(edited, kitConfig(`[[upstreams]]\nname = "a"\nurl = "http://127.0.0.1:9/a"\npriority = 7\n[metrics]\nwindow = "10m"\n`), open).table;
  const m = rewindowed.upstreams[0]!.metrics.snapshot();
  expect([m.totalRequests, m.totalErrors]).toEqual([3, 1]);
  // The window itself starts afresh (sized anew): only the totals carry over.
  expect(m.requests).toBe(0);
  // Requests that were running on the first and second objects finish after both rebuilds: each counts once, in the totals.
  t.upstreams[0]!.metrics.recordRequest(10, 5, true, 100);
  edited.upstreams[0]!.metrics.recordRequest(10, 5, false, 100);
  const after = rewindowed.upstreams[0]!.metrics.snapshot();
  expect([after.totalRequests, after.totalErrors, after.requests]).toEqual([5, 2, 0]);
});
