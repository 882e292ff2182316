// The last answer of a Bun.serve whose handler threw: docs/relay.md's "a request failed listener=…, never Bun's stack and its error page", through a real listener.
import { afterAll, expect, test } from "bun:test";
import { logger, setLogFormat, setLogSink, logFormat } from "./log.ts";
import { lastResort } from "./serve-fallback.ts";

const lines: string[] = [];
const started = logFormat();
setLogSink((l) => void lines.push(l));
setLogFormat("plain");
afterAll(() => {
  setLogSink((l) => void process.stderr.write(l + "\n"));
  setLogFormat(started);
});

test("a handler that throws: the listener's own answer, not Bun's page of our source; one log line naming the listener, no stack; the same failure again within 10 s is not written again", async () => {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    development: false,
    fetch: () => {
      throw new Error("handler broke at /secret/path/of/the/source.ts");
    },
    error: lastResort(logger("relay"), "relay", () => Response.json({ error: { code: "internal" } }, { status: 500 })),
  });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`http://127.0.0.1:${server.port}/x`);
      expect([r.status, await r.json()]).toEqual([500, { error: { code: "internal" } }]);
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\S+ error relay: a request failed listener=relay error="handler broke at \/secret\/path\/of\/the\/source.ts"$/);
  } finally {
    server.stop(true);
  }
});
