// The tunnel's log lines as its state changes: a tunnel just enabled logs that it connects, not that it stopped; a displaced one says why.
import { afterAll, expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import type { DaemonContext } from "../core/component.ts";
import { setLogSink } from "../core/log.ts";
import { TunnelService } from "./component.ts";
import type { SupervisorSnapshot } from "./supervisor.ts";
import { DISPLACED_CODE, DISPLACED_FIX, DISPLACED_MESSAGE } from "./displacement.ts";

const lines: string[] = [];
setLogSink((l) => void lines.push(l));
afterAll(() => setLogSink((l) => void process.stderr.write(l + "\n")));

const snap = (state: SupervisorSnapshot["state"]): SupervisorSnapshot => ({ state, attempt: 0, nextRetryAt: null, lastError: null, lastErrorCode: null, tunnelId: null, since: 0, connection: null, moving: false });

/** A tunnel service on an enabled [tunnel], and its supervisor-change hook (what the supervisor calls). */
function enabledService() {
  const r = parseConfig(`[tunnel]\nenabled = true\nrelay_url = "ws://127.0.0.1:8090/agent"\n`, "test.toml");
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const svc = new TunnelService({ config: { current: () => r.config }, services: {}, events: { emit: () => {} } } as unknown as DaemonContext);
  return { svc, onChange: (s: SupervisorSnapshot) => (svc as unknown as { onChange(s: SupervisorSnapshot): void }).onChange(s) };
}

test("enabling the tunnel logs 'connecting', not 'tunnel stopped' for the supervisor's first snapshot; a real stop is logged", () => {
  const { onChange } = enabledService();
  onChange(snap("stopped"));
  onChange(snap("connecting"));
  expect(lines.filter((l) => l.includes("tunnel:")).map((l) => l.replace(/^.*tunnel: /, ""))).toEqual(["connecting to the relay relay=ws://127.0.0.1:8090/agent"]);
  onChange(snap("stopped"));
  expect(lines.at(-1)).toContain("tunnel stopped relay=ws://127.0.0.1:8090/agent");
});

test("a displaced tunnel: one warn line with the reason and the fix, and the fix in its status", () => {
  const { svc, onChange } = enabledService();
  onChange(snap("connected"));
  const before = lines.length;
  onChange({ ...snap("failed"), lastError: DISPLACED_MESSAGE, lastErrorCode: DISPLACED_CODE });
  const logged = lines.slice(before);
  expect(logged.length).toBe(1);
  expect(logged[0]).toMatch(/warn.*tunnel.*another agent took this tunnel over; stopped reconnecting .*error=.*took the tunnel over.* fix=.*tunnel restart/i);
  expect(svc.status()).toMatchObject({ state: "failed", lastErrorCode: "displaced", lastError: DISPLACED_MESSAGE, fix: DISPLACED_FIX });
});
