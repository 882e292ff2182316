// Test doubles for the API's unit tests: a DaemonContext on a temp config file, a stub BrokerService and TunnelControl.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfig, parseConfig } from "../../src/config/load.ts";
import { Daemon } from "../../src/daemon/daemon.ts";
import type { BrokerService, TunnelControl, TunnelStatus, UpstreamState, UpstreamStatus } from "../../src/core/contracts.ts";
import { emptyMetrics } from "../../src/api/modules/status/service.ts";

export const TOKEN = "test-token-0123456789abcdef";
export const AUTH = { authorization: `Bearer ${TOKEN}` };

export interface TestEnv {
  dir: string;
  file: string;
  daemon: Daemon;
  cleanup(): void;
}

/** A daemon context (no components) on a config file in a temp dir; backups go to the same dir. */
export function testEnv(toml = ""): TestEnv {
  const dir = mkdtempSync(join(tmpdir(), "c2l-api-"));
  const file = join(dir, "tunnel.toml");
  writeFileSync(file, toml, { mode: 0o600 });
  // parseConfig refuses a file that sets nothing (a truncated save); a context without settings runs on the defaults.
  const r = toml.trim() ? parseConfig(toml, file) : ({ ok: true, config: defaultConfig() } as const);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  // The state dir, and the runtime dir the API component writes its listen record in (src/api/listen-record.ts): the
  // test's own, not those of the user running the suite, whose daemon (`npm start`) may be running beside it.
  const prev = { XDG_STATE_HOME: process.env.XDG_STATE_HOME, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR };
  process.env.XDG_STATE_HOME = join(dir, "state");
  process.env.XDG_RUNTIME_DIR = join(dir, "run");
  const daemon = new Daemon({ file, config: r.config, factories: [] });
  return {
    dir,
    file,
    daemon,
    cleanup() {
      for (const [k, v] of Object.entries(prev)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function upstream(name: string, state: UpstreamState, models: string[] = []): UpstreamStatus {
  return {
    name,
    kind: "ollama",
    url: `http://127.0.0.1:1/${name}`,
    enabled: true,
    priority: 100,
    state,
    quality: state === "up" ? "excellent" : "down",
    version: state === "up" ? "0.6.0" : null,
    models,
    lastCheck: new Date(0).toISOString(),
    lastError: state === "down" ? "connection refused" : null,
    metrics: { ...emptyMetrics(), totalRequests: 3 },
  };
}

export class StubBroker implements BrokerService {
  calls: string[] = [];
  /** Models each upstream has loaded (by upstream name), for models(). */
  loaded: Record<string, string[]> = {};
  constructor(public list: UpstreamStatus[]) {}
  upstreams() {
    return this.list;
  }
  upstream(name: string) {
    return this.list.find((u) => u.name === name);
  }
  async check(name: string) {
    this.calls.push(`check:${name}`);
    return { ...this.upstream(name)!, lastCheck: new Date().toISOString() };
  }
  async reconnectAll() {
    this.calls.push("reconnect");
  }
  models() {
    const map = new Map<string, string[]>();
    for (const u of this.list) for (const m of u.models) map.set(m, [...(map.get(m) ?? []), u.name]);
    return [...map].map(([name, upstreams]) => ({ name, upstreams, loaded: upstreams.filter((u) => this.loaded[u]?.includes(name)) }));
  }
  overallQuality() {
    return this.list.some((u) => u.state === "up") ? ("excellent" as const) : ("down" as const);
  }
  async handle() {
    return new Response("not used");
  }
}

export class StubTunnel implements TunnelControl {
  calls: string[] = [];
  state: TunnelStatus["state"] = "stopped";
  status(): TunnelStatus {
    return { state: this.state, protocol: "v2", relay: "wss://relay.test/agent", since: null, nextRetry: null, attempt: 0, lastError: null, tunnelId: null, activeStreams: 0 };
  }
  async start() {
    this.calls.push("start");
    this.state = "connected";
  }
  async stop() {
    this.calls.push("stop");
    this.state = "stopped";
  }
  async restart() {
    this.calls.push("restart");
    this.state = "connected";
  }
}
