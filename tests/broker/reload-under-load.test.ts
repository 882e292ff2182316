// 100 reloads in a tight loop (the file rewritten by a script, SIGHUP each time) that move an upstream between servers
// while 16 clients stream through a real daemon: every stream ends whole, and what a reload retired lets go of its
// connections (its health checks' too) against servers that, like Ollama's, never close an idle one themselves.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { removeHome, startDaemon, TEST_DAEMON_TOML } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

setDefaultTimeout(90_000);

const enc = new TextEncoder();
/** An Ollama-like upstream with no idle timeout (Go's http.Server as Ollama runs it): a kept-alive socket stays open until the client closes it. */
function upstream() {
  const hits: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      hits.push(path);
      if (path === "/api/tags") return Response.json({ models: [{ name: "m:latest", model: "m:latest" }] });
      if (path === "/api/version") return Response.json({ version: "0.6.0" });
      if (path === "/api/ps") return Response.json({ models: [] });
      if (path !== "/api/chat") return new Response("not found", { status: 404 });
      // Ten tokens 10 ms apart: long enough for reloads to land in the middle of many streams.
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          for (let i = 0; i < 10; i++) {
            await Bun.sleep(10);
            c.enqueue(enc.encode(JSON.stringify({ model: "m:latest", message: { role: "assistant", content: `t${i} ` }, done: false }) + "\n"));
          }
          c.enqueue(enc.encode(JSON.stringify({ model: "m:latest", message: { role: "assistant", content: "" }, done: true, done_reason: "stop", prompt_eval_count: 1, eval_count: 10 }) + "\n"));
          c.close();
        },
      });
      return new Response(body, { headers: { "content-type": "application/x-ndjson" } });
    },
  });
  return { server, hits, port: server.port! };
}

// "a" moves between three servers on every reload and ends on a fourth; "b" stays where it is throughout.
const moving = [upstream(), upstream(), upstream()];
const last = upstream();
const steady = upstream();
afterAll(() => {
  for (const u of [...moving, last, steady]) u.server.stop(true);
});

const config = (a: number) =>
  `${TEST_DAEMON_TOML}[health]\ninterval = "1s"\ndown_interval = "1s"\n` +
  `[[upstreams]]\nname = "a"\nurl = "http://127.0.0.1:${a}"\n[[upstreams]]\nname = "b"\nurl = "http://127.0.0.1:${steady.port}"\n`;

/** The daemon's established TCP connections to `port`: its socket descriptors matched with /proc/net/tcp. */
function connectionsTo(pid: number, port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {}
  }
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  let n = 0;
  for (const line of readFileSync(`/proc/${pid}/net/tcp`, "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // remote address, state (01 established), inode
    if (f.length > 9 && f[2]!.endsWith(`:${hex}`) && f[3] === "01" && inodes.has(f[9]!)) n++;
  }
  return n;
}

test("100 reloads moving an upstream while 16 clients stream: every stream ends whole, and no connection to a retired server stays open", async () => {
  const d = await startDaemon({ config: config(moving[0]!.port), waitFor: ["api", "broker"] });
  try {
    await d.waitFor(/upstream state changed upstream=a from=unknown to=up/);
    let stop = false;
    const outcomes: Record<string, number> = {};
    const client = async (i: number) => {
      while (!stop) {
        let r: Response, lines: string[];
        try {
          r = await fetch(`${d.urls.broker}/api/chat`, { method: "POST", body: JSON.stringify({ model: "m", messages: [{ role: "user", content: `c${i}` }] }) });
          lines = (await r.text()).trim().split("\n");
        } catch (e) {
          const k = `thrown ${String(e)} ${Date.now()}`;
          outcomes[k] = (outcomes[k] ?? 0) + 1;
          continue;
        }
        const end = lines.at(-1)!;
        const k = `${r.status} ${end.includes('"done":true') && lines.length === 11 ? "whole" : end}`;
        outcomes[k] = (outcomes[k] ?? 0) + 1;
      }
    };
    const clients = Array.from({ length: 16 }, (_, i) => client(i));
    await until(() => Object.values(outcomes).reduce((a, b) => a + b, 0) >= 16, 10_000, "the first streams to end");
    for (let v = 1; v <= 100; v++) {
      writeFileSync(d.configFile, config(v === 100 ? last.port : moving[v % 3]!.port));
      d.proc.kill("SIGHUP");
      await Bun.sleep(20);
    }
    await until(() => last.hits.includes("/api/version"), 15_000, "the last server checked");
    // Streams keep going a while on the last table, so the last retirement is under load too.
    const served = Object.values(outcomes).reduce((a, b) => a + b, 0);
    await until(() => Object.values(outcomes).reduce((a, b) => a + b, 0) >= served + 32, 15_000, "more streams on the last table");
    stop = true;
    await Promise.all(clients);
    if (Object.keys(outcomes).length > 1) console.log(outcomes, d.stderr().split("\n").filter((l) => !l.includes(" info ")).join("\n"));
    expect(Object.keys(outcomes)).toEqual(["200 whole"]);
    expect(d.count(/configuration rejected/)).toBe(0);

    // The retired servers: no request once the last reload is in, and no socket left open to them (the pool of a
    // retired upstream idles out its sockets as its last streams end; its health checks' connections close with it).
    for (const u of moving) await until(() => connectionsTo(d.proc.pid, u.port) === 0, 15_000, `the daemon's connections to retired server :${u.port} to close`);
    const before = moving.map((u) => u.hits.length);
    // One health loop per upstream: over the same time the last server is checked as often as the steady one.
    const [l0, s0] = [last.hits.filter((p) => p === "/api/version").length, steady.hits.filter((p) => p === "/api/version").length];
    await until(() => steady.hits.filter((p) => p === "/api/version").length >= s0 + 3, 15_000, "three more health checks of b");
    const checksOfLast = last.hits.filter((p) => p === "/api/version").length - l0;
    const checksOfSteady = steady.hits.filter((p) => p === "/api/version").length - s0;
    expect(checksOfLast).toBeGreaterThan(0);
    expect(checksOfLast).toBeLessThanOrEqual(checksOfSteady + 1);
    expect(moving.map((u) => u.hits.length)).toEqual(before);
    expect(connectionsTo(d.proc.pid, last.port)).toBeGreaterThan(0);
  } finally {
    await d.stop();
    removeHome(d.home);
  }
});
