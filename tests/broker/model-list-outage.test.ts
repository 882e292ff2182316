// /api/tags, /api/ps and /v1/models when no upstream answers: one behaviour (502 naming why and the fix) whether the upstream never came up or died.
import { afterEach, expect, test } from "bun:test";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { startBroker, upstreamToml, type TestBroker } from "./harness.ts";

let tb: TestBroker | null = null;
const fakes: FakeOllama[] = [];
afterEach(async () => {
  await tb?.stop();
  tb = null;
  for (const f of fakes.splice(0)) await f.stop();
});

/** A loopback port with nothing listening on it (connections are refused). */
function closedPort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = s.port!;
  s.stop(true);
  return port;
}

const FIX = "is Ollama running? `systemctl --user start ollama` or `ollama serve`";

/** What a client gets from the three listing routes. */
async function lists(url: string) {
  const out: Record<string, { status: number; body: any }> = {};
  for (const p of ["/api/tags", "/api/ps", "/v1/models"]) {
    const r = await fetch(url + p);
    out[p] = { status: r.status, body: await r.json() };
  }
  return out;
}

function expectOutage(got: Awaited<ReturnType<typeof lists>>): void {
  for (const p of ["/api/tags", "/api/ps"]) {
    expect(got[p]!.status).toBe(502);
    // Ollama's shape: what an Ollama client shows the user.
    expect(got[p]!.body).toEqual({ error: `no upstream answered with its model list: upstream "local" could not be reached: connection refused — ${FIX}` });
  }
  expect(got["/v1/models"]!.status).toBe(502);
  expect(got["/v1/models"]!.body.error).toMatchObject({ code: "upstream_error", type: "server_error" });
  expect(got["/v1/models"]!.body.error.message).toContain(`connection refused — ${FIX}`);
}

test("never up: the listing routes answer 502 with the reason and the fix, not an empty list", async () => {
  tb = await startBroker(`[health]\ninterval = "60s"\ndown_interval = "60s"\n` + upstreamToml("local", `http://127.0.0.1:${closedPort()}`));
  await tb.waitState("local", "down");
  expectOutage(await lists(tb.url));
});

test("died while up: the same answer, before and after the health checks notice; back before they do: the list", async () => {
  const f = await startFakeOllama({ models: ["llama3.2:1b"] });
  fakes.push(f);
  const port = f.port;
  tb = await startBroker(`[health]\ninterval = "60s"\ndown_interval = "60s"\nfailures_before_down = 1\n` + upstreamToml("local", f.url));
  await tb.waitState("local", "up");
  expect((await lists(tb.url))["/api/tags"]!.status).toBe(200);
  await fakes.pop()!.stop();
  // The broker still believes it up (no check ran since): the same 502 as never-up.
  expect(tb.broker.upstream("local")!.state).toBe("up");
  expectOutage(await lists(tb.url));
  await tb.broker.check("local");
  expect(tb.broker.upstream("local")!.state).toBe("down");
  expectOutage(await lists(tb.url));
  // Ollama is back; the next check is a minute away: the listing asks the down upstream anyway and gets the truth.
  fakes.push(await startFakeOllama({ port, models: ["llama3.2:1b"] }));
  const tags = await fetch(`${tb.url}/api/tags`);
  expect(tags.status).toBe(200);
  expect(((await tags.json()) as { models: { name: string }[] }).models.map((m) => m.name)).toEqual(["llama3.2:1b"]);
  // ... and that answer makes the broker check it now rather than at down_interval.
  await tb.waitState("local", "up");
});

test("no upstream enabled: 502 no_upstream, as for inference", async () => {
  tb = await startBroker(upstreamToml("local", `http://127.0.0.1:${closedPort()}`, "enabled = false"));
  const r = await fetch(`${tb.url}/api/tags`);
  expect(r.status).toBe(502);
  expect(await r.json()).toEqual({ error: "no upstream is enabled in the broker's configuration" });
});
