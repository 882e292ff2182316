// Unit tests for the `status` table: layout, colours only on a TTY and never with NO_COLOR.
import { describe, expect, test } from "bun:test";
import { renderStatus, useColour } from "./status-view.ts";
import type { DaemonStatus } from "../core/contracts.ts";
import { upstream } from "../../tests/api/stubs.ts";
import { verdict } from "../core/verdict.ts";

const now = new Date("2026-11-21T12:00:00Z");
const status: DaemonStatus = {
  daemon: { version: "3.0.0", commit: "abc123", buildDate: "x", pid: 42, startedAt: "", uptimeSec: 3725, configPath: "/c/tunnel.toml", lastReload: { at: "2026-11-21T11:59:00Z", ok: false, error: { message: "bad port", line: 3, column: 10 } } },
  upstreams: [
    { ...upstream("local", "up", ["a", "b"]), lastCheck: "2026-11-21T11:59:50Z", metrics: { ...upstream("x", "up").metrics, latencyMs: { p50: 12.4, p90: 20, p95: 30, p99: 1500 }, errorRate: 0.05, tokensPerSec: 41.26 } },
    { ...upstream("spare", "down"), lastCheck: "2026-11-21T11:59:58Z" },
  ],
  tunnel: { state: "connected", protocol: "v2", relay: "wss://relay.example/agent", since: "2026-11-21T11:00:00Z", nextRetry: null, attempt: 0, lastError: null, tunnelId: "t1", activeStreams: 2 },
  quality: "good",
  verdict: { quality: "good", level: "ok", upstream: null, reason: null, fix: null, text: "quality good" },
  alerts: [{ id: "upstream_down:spare", rule: "upstream_down", severity: "critical", subject: "spare", message: "spare is down", raisedAt: "2026-11-21T11:58:00Z" }],
  auth: { state: "signed_in", subject: "ada@example.com", expiresAt: null },
  warnings: ["secrets are kept in a file"],
};

describe("status table", () => {
  test("a rejected reload names the field with its line, as the daemon's log does (the message alone does not say which setting)", () => {
    const rejected: DaemonStatus = {
      ...status,
      daemon: { ...status.daemon, lastReload: { at: "2026-11-21T11:59:00Z", ok: false, error: { message: "10 is below the minimum 1024", path: "api.body_limit", line: 18, column: 1 } } },
    };
    // The line is wrapped at 80 columns: read it as one.
    expect(renderStatus(rejected, { color: false, now }).replace(/\s+/g, " ")).toContain("config /c/tunnel.toml · last reload rejected: line 18:1: api.body_limit: 10 is below the minimum 1024");
  });

  test("plain text: one row per upstream with aligned columns, tunnel, sign-in, alerts, reload error", () => {
    const out = renderStatus(status, { color: false, now });
    expect(out).not.toContain("\x1b[");
    const lines = out.split("\n");
    expect(lines[0]).toBe("cloudtolocalllm-tunnel 3.0.0 (abc123) · pid 42 · up 1h02m · quality good");
    expect(lines[1]).toBe("config /c/tunnel.toml · last reload rejected: line 3:10: bad port");
    const header = lines.find((l) => l.startsWith("UPSTREAM"))!;
    const local = lines.find((l) => l.startsWith("local"))!;
    const spare = lines.find((l) => l.startsWith("spare"))!;
    expect(local.indexOf("up")).toBe(header.indexOf("STATE"));
    expect(spare.indexOf("down")).toBe(header.indexOf("STATE"));
    expect(local).toContain("12ms");
    expect(local).toContain("1.5s");
    expect(local).toContain("5.0%");
    expect(local).toContain("41.3");
    expect(local).toContain("10s ago");
    expect(lines[lines.indexOf(spare) + 1]).toBe("  last error: connection refused");
    expect(out).toContain("tunnel connected wss://relay.example/agent since 1h00m ago · 2 active streams");
    expect(out).toContain("sign-in signed_in as ada@example.com");
    expect(out).toContain("critical  spare is down (2m00s ago)");
    expect(out).toContain("warning: secrets are kept in a file");
  });
  test("what each upstream reports of itself: its loaded models and its slots (busy/total, or running and waiting)", () => {
    const at = "2026-11-21T11:59:50Z";
    const s: DaemonStatus = {
      ...status,
      upstreams: [
        { ...upstream("gpu", "up", ["a", "b", "c"]), loaded: ["a", "b"], capacity: { slots: 4, busy: 1, waiting: null, at } },
        { ...upstream("vllm", "up", ["v"]), loaded: ["v"], capacity: { slots: null, busy: 3, waiting: 5, at } },
        { ...upstream("plain", "up", ["p"]), capacity: null },
      ],
    };
    const lines = renderStatus(s, { color: false, now, width: 200 }).split("\n");
    const header = lines.find((l) => l.startsWith("UPSTREAM"))!;
    const row = (name: string) => lines.find((l) => l.startsWith(name))!;
    expect(row("gpu").slice(header.indexOf("LOADED")).split(/\s{2,}/).slice(0, 2)).toEqual(["2", "1/4"]);
    expect(row("vllm").slice(header.indexOf("LOADED")).split(/\s{2,}/).slice(0, 2)).toEqual(["1", "3 +5 waiting"]);
    expect(row("plain").slice(header.indexOf("LOADED")).split(/\s{2,}/).slice(0, 2)).toEqual(["-", "-"]);
    // On 80 columns they are the first to give way.
    expect(renderStatus(s, { color: false, now }).split("\n").find((l) => l.startsWith("UPSTREAM"))).not.toContain("SLOTS");
  });

  test("colours on a terminal: states in green/red, column alignment unchanged", () => {
    const out = renderStatus(status, { color: true, now });
    expect(out).toContain("\x1b[32mup\x1b[0m");
    expect(out).toContain("\x1b[31mdown\x1b[0m");
    const strip = (s: string) => s.replace(/\x1b\[\d+m/g, "");
    expect(strip(out)).toBe(renderStatus(status, { color: false, now }));
  });
  test("nothing answering: header quality critical, an unchecked upstream shows no quality, never \"excellent\"", () => {
    const unchecked = { ...upstream("new", "unknown"), lastCheck: null, lastError: null };
    const s: DaemonStatus = {
      ...status,
      // as the daemon reports it: never answered → critical; "excellent" is what it said before, and must not show
      upstreams: [{ ...unchecked, quality: "critical" }, { ...unchecked, name: "old", quality: "excellent" }, upstream("spare", "down")],
      quality: "critical",
      alerts: [],
    };
    const out = renderStatus(s, { color: false, now });
    const lines = out.split("\n");
    expect(lines[0]).toEndWith("· quality critical");
    const header = lines.find((l) => l.startsWith("UPSTREAM"))!;
    for (const name of ["new", "old"]) {
      const row = lines.find((l) => l.startsWith(name))!;
      expect(row).toMatch(new RegExp(`^${name}\\s+unknown\\s+-\\s+-\\s`));
      expect(row.indexOf("-")).toBe(header.indexOf("QUALITY"));
      expect(row).toContain("never");
    }
    expect(lines.find((l) => l.startsWith("spare"))).toMatch(/^spare\s+down\s+down\s/);
    expect(out).not.toContain("excellent");
    expect(renderStatus(s, { color: true, now }).split("\n")[0]).toEndWith("quality \x1b[31mcritical\x1b[0m");
  });
  test("a wide, realistic state fits 80 columns, in colour too, and loses no text", () => {
    const m = (p50: number, errorRate: number, tokensPerSec: number | null) => ({ ...upstream("x", "up").metrics, latencyMs: { p50, p90: p50 * 2, p95: p50 * 3, p99: p50 * 10 }, errorRate, tokensPerSec });
    const busy = "HTTP 503 from http://workstation-gpu.lan:11434/api/chat: server busy, please retry later (queue is full)";
    const relayError = "relay refused the agent token (401 unauthorized): set the right one with `cloudtolocalllm-tunnel secret set tunnel-token`";
    const ups: DaemonStatus["upstreams"] = [
      { ...upstream("workstation-gpu", "degraded", ["a", "b", "c"]), quality: "excellent", lastCheck: "2026-11-21T11:47:30Z", metrics: m(1234, 1, 1234.5), lastError: busy },
      { ...upstream("openrouter-fallback-eu-west", "up", Array.from({ length: 120 }, (_, i) => `m${i}`)), lastCheck: "2026-11-21T11:59:50Z", metrics: m(98, 0.125, 55.2), lastError: null },
      { ...upstream("laptop", "down"), enabled: false, lastCheck: "2026-11-21T09:30:00Z" },
    ];
    const wide: DaemonStatus = {
      daemon: {
        ...status.daemon,
        version: "3.0.0-rc.12",
        commit: "871fde2f4015",
        pid: 4194304,
        uptimeSec: 13 * 86400 + 23 * 3600,
        configPath: "/home/alexandra.konstantinopoulou/.config/cloudtolocalllm/tunnel.toml",
        lastReload: { at: "2026-11-21T11:59:00Z", ok: false, error: { message: 'upstreams[2].url: "htp://gpu-box.lan:11434" is not a URL (expected http:// or https://)', line: 31, column: 7 } },
      },
      upstreams: ups,
      // The daemon's verdict for these upstreams: its problem, reason and fix make one more long line.
      verdict: verdict(ups),
      tunnel: { ...status.tunnel, state: "reconnecting", relay: "wss://relay.cloudtolocalllm.example.com/agent", nextRetry: "2026-11-21T12:00:04.123Z", attempt: 7, lastError: relayError, activeStreams: 0 },
      quality: "poor",
      alerts: [{ id: "a", rule: "error_rate", severity: "critical", subject: "workstation-gpu", message: "upstream workstation-gpu has answered 100% of requests with errors over the last 5 minutes", raisedAt: "2026-11-21T11:58:00Z" }],
      auth: { state: "signed_in", subject: "alexandra.konstantinopoulou@some-long-company-domain.example.com", expiresAt: null },
      warnings: ["secrets are kept in a file (~/.local/state/cloudtolocalllm/secrets.json) because no Secret Service keyring answered on the session bus"],
    };
    const plain = renderStatus(wide, { color: false, now });
    const strip = (t: string) => t.replace(/\x1b\[\d+m/g, "");
    for (const out of [plain, strip(renderStatus(wide, { color: true, now }))]) {
      const tooWide = out.split("\n").filter((l) => l.length > 80);
      expect(tooWide).toEqual([]);
    }
    expect(strip(renderStatus(wide, { color: true, now }))).toBe(plain);
    // Wrapped, not cut: every sentence is there once the continuation lines are joined again.
    const joined = plain.replace(/\n +/g, " ");
    for (const text of [busy, relayError, wide.alerts[0]!.message, wide.warnings[0]!, wide.daemon.configPath, "alexandra.konstantinopoulou@some-long-company-domain.example.com", "quality poor"])
      expect(joined).toContain(text);
    // The table keeps its header aligned with its rows, and the figures that matter most.
    const lines = plain.split("\n");
    // A line breaks between its " · " parts first: "quality poor" stays on one line.
    expect(lines.some((l) => l.trim() === "· quality poor")).toBe(true);
    expect(lines[0]).toStartWith("cloudtolocalllm-tunnel 3.0.0-rc.12 (871fde2) · pid 4194304");
    const header = lines.find((l) => l.startsWith("UPSTREAM"))!;
    for (const col of ["STATE", "QUALITY", "MODELS", "P95", "ERRORS"]) expect(header).toContain(col);
    const gpu = lines.find((l) => l.startsWith("workstation-gpu"))!;
    // The last error sits under its row, indented, and its continuation further in.
    expect(lines[lines.indexOf(gpu) + 1]).toStartWith("  last error: HTTP 503");
    expect(lines[lines.indexOf(gpu) + 2]).toStartWith("    ");
    expect(gpu.indexOf("degraded")).toBe(header.indexOf("STATE"));
    expect(gpu.indexOf("100.0%")).toBe(header.indexOf("ERRORS"));
    expect(lines.find((l) => l.startsWith("openrouter-fall…"))!.indexOf("120")).toBe(header.indexOf("MODELS"));
    // A wider terminal gets every column back.
    expect(renderStatus(wide, { color: false, now, width: 200 }).split("\n").find((l) => l.startsWith("UPSTREAM"))).toContain("P99");
  });
  test("a down upstream: the verdict's reason and fix under the header, no stale model count or latencies", () => {
    const down = { ...upstream("local", "down", ["a", "b"]), metrics: { ...upstream("x", "up").metrics, latencyMs: { p50: 900, p90: 950, p95: 1000, p99: 1100 } } };
    const s: DaemonStatus = { ...status, upstreams: [down], verdict: verdict([down]), quality: verdict([down]).quality, alerts: [] };
    const out = renderStatus(s, { color: false, now });
    const lines = out.split("\n");
    expect(lines[0]).toEndWith("· quality critical");
    // Wrapped to 80 columns, its words unchanged.
    expect(out.replace(/\n +/g, " ").split("\n")[2]).toBe("health local is down: connection refused — is Ollama running? `systemctl --user start ollama` or `ollama serve`");
    const row = lines.find((l) => l.startsWith("local"))!;
    expect(row).toMatch(/^local\s+down\s+down\s+-\s+-\s+-\s+-\s/);
    expect(row).not.toContain("1.0s");
  });
  test("colour only on a TTY and never with NO_COLOR", () => {
    const prev = process.env.NO_COLOR;
    delete process.env.NO_COLOR;
    expect(useColour({ isTTY: true })).toBe(true);
    expect(useColour({ isTTY: false })).toBe(false);
    process.env.NO_COLOR = "1";
    expect(useColour({ isTTY: true })).toBe(false);
    if (prev === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = prev;
  });

  test("tunnel: the next retry is relative, the fix and the cloud URL are shown", () => {
    const t = { ...status.tunnel, state: "auth_failed" as const, lastError: "the relay refused the agent token (401)", fix: "store the agent token the relay expects: `cloudtolocalllm-tunnel secret set tunnel-token`" };
    const failed = renderStatus({ ...status, tunnel: t }, { color: false, now }).replace(/\n +/g, " ");
    expect(failed).toContain("fix: store the agent token the relay expects: `cloudtolocalllm-tunnel secret set tunnel-token`");
    const retrying = renderStatus({ ...status, tunnel: { ...status.tunnel, state: "reconnecting", nextRetry: "2026-11-21T12:00:04.123Z", attempt: 3, lastError: "x" } }, { color: false, now });
    expect(retrying).toContain("retry in 4 s (attempt 3)");
    expect(retrying).not.toContain("2026-11-21T12:00:04");
    const up = renderStatus({ ...status, tunnel: { ...status.tunnel, cloudUrl: "https://relay.example/t/t1/" } }, { color: false, now }).replace(/\n +/g, " ");
    expect(up).toContain("cloud URL https://relay.example/t/t1/ · OpenAI base URL https://relay.example/t/t1/v1");
    // After `tunnel stop` the API still knows the URL, but nothing answers there: status does not offer it.
    const stopped = renderStatus({ ...status, tunnel: { ...status.tunnel, state: "stopped", cloudUrl: "https://relay.example/t/t1/" } }, { color: false, now });
    expect(stopped).toContain("tunnel stopped");
    expect(stopped).not.toContain("cloud URL");
  });

  test("sign-in: a failing refresh shows the error, the attempt and the next retry; login_required its reason", () => {
    const failing = renderStatus({ ...status, auth: { state: "signed_in", subject: "alice", expiresAt: null, reason: "x", refresh: { lastError: "connection refused", attempt: 3, nextRetryAt: "2026-11-21T12:00:08.000Z", tokenExpired: false } } }, { color: false, now }).replace(/\n +/g, " ");
    expect(failing).toContain("sign-in signed_in as alice · refresh failing (attempt 3: connection refused), next retry in 8 s");
    const required = renderStatus({ ...status, auth: { state: "login_required", subject: null, expiresAt: null, reason: "the session could not be refreshed (invalid_grant)" } }, { color: false, now }).replace(/\n +/g, " ");
    expect(required).toContain("sign-in login_required · sign in again: the session could not be refreshed (invalid_grant)");
  });
});
