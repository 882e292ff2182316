// Unit tests for the pure parts of the systemd notifier: watchdog interval and the STATUS= line.
import { describe, expect, test } from "bun:test";
import { openNotifier, statusLine, watchdogIntervalMs } from "./sd-notify.ts";
import type { UpstreamStatus } from "../core/contracts.ts";

const up = (name: string, state: UpstreamStatus["state"], enabled = true) => ({ name, state, enabled }) as UpstreamStatus;

describe("sd-notify", () => {
  test("watchdog pings at half of WATCHDOG_USEC, only for the named pid", () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000" }, 42)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "42" }, 42)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "7" }, 42)).toBeNull();
    expect(watchdogIntervalMs({}, 42)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "junk" }, 42)).toBeNull();
  });

  test("status line counts enabled upstreams that serve and names the tunnel state", () => {
    const tunnel = { state: "auth_failed" } as never;
    expect(statusLine({ upstreams: [up("a", "up"), up("b", "down"), up("c", "down", false)], quality: "good", tunnel })).toBe(
      "1/2 upstreams up (good), tunnel auth failed",
    );
    expect(statusLine({ upstreams: [], tunnel: { state: "disabled" } as never, rejected: true })).toBe(
      "0/0 upstreams up, tunnel disabled, config rejected, running the last good one",
    );
    expect(statusLine({ upstreams: [up("a", "unknown")], quality: "excellent" })).toBe("0/1 upstreams up");
    expect(statusLine({})).toBe("running");
    expect(statusLine({ upstreams: [up("a", "down")], quality: "critical", problem: "a is down: connection refused — is Ollama running?" })).toBe(
      "0/1 upstreams up, a is down: connection refused — is Ollama running?",
    );
  });

  test("no NOTIFY_SOCKET: no notifier, nothing loaded", () => {
    expect(openNotifier({})).toBeNull();
  });
});
