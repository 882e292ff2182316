// Quality and state before an upstream has ever answered: never "excellent", refused at start is down at once, overall critical.
import { afterEach, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { blackhole, type Blackhole } from "./blackhole.ts";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";

let tb: TestBroker | null = null;
const fakes: FakeOllama[] = [];
const holes: Blackhole[] = [];
afterEach(async () => {
  await tb?.stop();
  tb = null;
  for (const f of fakes.splice(0)) await f.stop();
  for (const h of holes.splice(0)) h.close();
});

/** A loopback port with nothing listening on it (connections are refused). */
function closedPort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** Waits until the named upstream's first health check has finished (whatever its outcome). */
async function firstCheck(name: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (tb!.broker.upstream(name)?.lastCheck === null) {
    if (Date.now() > end) throw new Error(`upstream ${name} was never checked`);
    await Bun.sleep(10);
  }
}

test("a refused connection at start is down after the first check, whatever failures_before_down; overall critical", async () => {
  // Long intervals: only the check made at start runs during the test. Default failures_before_down (3).
  tb = await startBroker(`[health]\ninterval = "60s"\ndown_interval = "60s"\n` + upstreamToml("local", `http://127.0.0.1:${closedPort()}`));
  await firstCheck("local");
  const s = tb.broker.upstream("local")!;
  expect(s.state).toBe("down");
  expect(s.quality).toBe("down");
  expect(s.lastError).toBe("connection refused");
  expect(tb.broker.overallQuality()).toBe("critical");
  const states = tb.seen.filter((e) => e.type === "upstream.state").map((e) => e.data);
  expect(states).toEqual([{ name: "local", from: "unknown", to: "down", reason: "connection refused" }]);
});

test("an upstream that has not answered yet is critical, never excellent; one serving upstream makes the overall its quality", async () => {
  const hole = await blackhole();
  holes.push(hole);
  const f = await startFakeOllama();
  fakes.push(f);
  // The blackholed upstream's first check hangs for the whole (long) timeout: it stays unknown during the test.
  tb = await startBroker(`[health]\ninterval = "60s"\ntimeout = "60s"\n` + upstreamToml("hung", `http://127.0.0.1:${hole.port}`));
  const hung = tb.broker.upstream("hung")!;
  expect(hung.state).toBe("unknown");
  expect(hung.quality).toBe("critical");
  expect(tb.broker.overallQuality()).toBe("critical");
  await tb.stop();

  tb = await startBroker(`[health]\ninterval = "60s"\ntimeout = "60s"\n` + upstreamToml("hung", `http://127.0.0.1:${hole.port}`) + upstreamToml("local", f.url));
  await tb.waitState("local", "up");
  expect(tb.broker.upstream("hung")!.state).toBe("unknown");
  expect(tb.broker.upstream("hung")!.quality).toBe("critical");
  expect(tb.broker.overallQuality()).toBe("excellent");
});

test("a down upstream that never answered keeps the normal interval and comes up when Ollama starts", async () => {
  const port = closedPort();
  tb = await startBroker(`[health]\ninterval = "100ms"\ndown_interval = "60s"\n` + upstreamToml("late", `http://127.0.0.1:${port}`));
  await tb.waitState("late", "down");
  const f = await startFakeOllama({ port });
  fakes.push(f);
  // At down_interval (60 s) this would time out; the normal interval notices the late start.
  await tb.waitState("late", "up", 10_000);
  expect(tb.broker.upstream("late")!.quality).toBe("excellent");
  expect(tb.broker.overallQuality()).toBe("excellent");
});
