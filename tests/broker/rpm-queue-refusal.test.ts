// A key's --rpm against the broker's queue, through a real daemon: a request the queue refuses at once (429, full), or
// that waits there until [proxy] queue_timeout (503), reached no upstream, so it does not use up one of the key's
// requests per minute.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { apiToken, createKey, removeHome, startDaemon, TEST_DAEMON_TOML, type DaemonProc } from "../helpers/daemon.ts";
import { holdingUpstream, type HoldingUpstream } from "../helpers/holding-upstream.ts";
import { until } from "../helpers/until.ts";

let held: HoldingUpstream;
let d: DaemonProc;
let token: string;
let key: string;

beforeAll(async () => {
  held = holdingUpstream();
  // One slot, and a queue of one place: a third request at once is refused with 429.
  d = await startDaemon({
    config: TEST_DAEMON_TOML.replace("[proxy]\n", "[proxy]\nqueue_limit = 1\n") + `[[upstreams]]\nname = "h"\nurl = "${held.url}"\nmax_parallel = 1\n`,
    waitFor: ["api", "broker"],
  });
  token = await apiToken(d);
  key = createKey(d, "editor", "--rpm", "4");
  await until(async () => (await fetch(`${d.urls.broker}/api/tags`, { headers: { "x-api-key": key } })).status === 200, 5000, "the daemon to see the key");
}, 30_000);

afterAll(async () => {
  await d?.stop();
  held?.stop();
  if (d) removeHome(d.home);
});

const generate = () => fetch(`${d.urls.broker}/api/generate`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: "m", prompt: "hi" }) });
async function waiting(): Promise<number> {
  const st = (await (await fetch(`${d.urls.api}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { queue?: { waiting: number } };
  return st.queue?.waiting ?? 0;
}

test("--rpm 4: one running, one waiting, two refused for the full queue; once they end, the minute's fourth request is still served", async () => {
  // The listing above was the minute's first (GET /api/tags counts too); these two its second and third.
  const running = generate();
  await until(() => held.open === 1, 10_000, "the first request at the upstream");
  const queued = generate();
  await until(async () => (await waiting()) === 1, 10_000, "the second request waiting");
  // Refused for the full queue, both: had the first refusal counted, the second would meet --rpm (4 used) instead.
  for (let i = 0; i < 2; i++) {
    const r = await generate();
    expect({ status: r.status, error: ((await r.json()) as { error: string }).error }).toEqual({ status: 429, error: "the broker's queue is full (1 requests wait for a free upstream); retry shortly" });
  }
  held.state.hold = false;
  held.releaseAll();
  for (const r of await Promise.all([running, queued])) {
    expect(r.status).toBe(200);
    await r.arrayBuffer();
  }
  // The fourth of the minute is served; the fifth is over the limit (the refusals took none of its places).
  const fourth = await generate();
  expect(fourth.status).toBe(200);
  await fourth.arrayBuffer();
  const fifth = await generate();
  expect(fifth.status).toBe(429);
  expect(((await fifth.json()) as { error: string }).error).toMatch(/^the API key "editor" is over its limit of 4 requests per minute; retry in \d+ s$/);
});

test("--rpm 3: two requests that wait out queue_timeout (503) in turn give their places back; once the upstream is free, the minute's third request is served", async () => {
  const slow = holdingUpstream();
  const q = await startDaemon({
    config: TEST_DAEMON_TOML.replace("[proxy]\n", "[proxy]\nqueue_timeout = \"1s\"\n") + `[[upstreams]]\nname = "h"\nurl = "${slow.url}"\nmax_parallel = 1\n`,
    waitFor: ["api", "broker"],
  });
  try {
    const k = createKey(q, "waiter", "--rpm", "3");
    // The listing is the minute's first request.
    await until(async () => (await fetch(`${q.urls.broker}/api/tags`, { headers: { "x-api-key": k } })).status === 200, 5000, "the daemon to see the key");
    const gen = () => fetch(`${q.urls.broker}/api/generate`, { method: "POST", headers: { authorization: `Bearer ${k}` }, body: JSON.stringify({ model: "m", prompt: "hi" }) });
    // The second holds the one slot.
    const running = gen();
    await until(() => slow.open === 1, 10_000, "the first request at the upstream");
    // Each waits its second and is refused; had the first counted, the second would meet --rpm (3 used) instead.
    for (let i = 0; i < 2; i++) {
      const r = await gen();
      expect({ i, status: r.status, error: ((await r.json()) as { error: string }).error }).toEqual({ i, status: 503, error: "waited 1 s for a free upstream ([proxy] queue_timeout); every upstream for this model is busy" });
    }
    expect(slow.open).toBe(1);
    slow.state.hold = false;
    slow.releaseAll();
    const first = await running;
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    // The third of the minute is served; the fourth is over the limit (the timed-out requests took none of its places).
    const third = await gen();
    expect(third.status).toBe(200);
    await third.arrayBuffer();
    const fourth = await gen();
    expect(fourth.status).toBe(429);
    expect(((await fourth.json()) as { error: string }).error).toMatch(/^the API key "waiter" is over its limit of 3 requests per minute; retry in \d+ s$/);
  } finally {
    await q.stop();
    slow.stop();
    removeHome(q.home);
  }
}, 60_000);
