// The per-request log line: what it shows, and that it follows [logging] requests (on by default, off on reload).
import { afterAll, expect, test } from "bun:test";
import { changes } from "../config/changes.ts";
import { defaultConfig } from "../config/load.ts";
import type { DaemonContext } from "../core/component.ts";
import { EventBus } from "../core/events.ts";
import { logFormat, setLogFormat, setLogSink } from "../core/log.ts";
import { requestRecord } from "../../tests/helpers/request-record.ts";
import { createRequestLog, requestLine } from "./request-log.ts";

const lines: string[] = [];
const started = logFormat();
setLogSink((l) => void lines.push(l));
setLogFormat("journal");
afterAll(() => {
  setLogSink((l) => void process.stderr.write(l + "\n"));
  setLogFormat(started);
});

test("a line has status, method, path (no query), model, upstream, caller, TTFT, tokens/s and duration; absent values are left out", () => {
  const r = requestLine(requestRecord({ path: "/v1/chat/completions?x=1", ttfbMs: 85, tokensPerSec: 41.26, durationMs: 2345, caller: "tunnel", key: "laptop" }));
  expect(r.msg).toBe("200 POST /v1/chat/completions");
  expect(r.fields).toMatchObject({ model: "llama3", upstream: "local", from: "tunnel", key: "laptop", ttft: "85ms", tok_s: "41.3", took: "2.35s" });
  const failed = requestLine(requestRecord({ status: 0, ttfbMs: null, tokensPerSec: null, model: null, upstream: null, error: "client went away" }));
  expect(failed.msg).toBe("--- POST /api/chat");
  expect(failed.fields).toMatchObject({ model: undefined, ttft: undefined, tok_s: undefined, error: "client went away" });
});

test("on by default: each request.completed is one info line; [logging] requests = false stops them at the next reload", async () => {
  const events = new EventBus();
  const on = defaultConfig();
  expect(on.logging.requests).toBe(true);
  const off = structuredClone(on);
  off.logging.requests = false;
  const ctx = { config: { current: () => on }, events, services: {} } as unknown as DaemonContext;
  const c = createRequestLog(ctx);
  await c.start();
  events.emit("request.completed", requestRecord({ durationMs: 120, ttfbMs: 30, tokensPerSec: 50 }));
  expect(lines).toEqual(["<6>info request: 200 POST /api/chat model=llama3 upstream=local from=local ttft=30ms tok_s=50.0 took=120ms"]);
  await c.apply!(off, on, changes(on, off));
  expect(events.heard("request.completed")).toBe(false);
  events.emit("request.completed", requestRecord());
  expect(lines).toHaveLength(1);
  await c.stop();
});
