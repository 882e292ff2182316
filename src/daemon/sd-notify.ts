// systemd readiness protocol: READY/STATUS/STOPPING/WATCHDOG through sd_notify(3) in libsystemd.so.0 via bun:ffi.
import { dlopen, FFIType } from "bun:ffi";
import { verdict } from "../core/verdict.ts";
import type { DaemonEvent, EventType } from "../core/events.ts";
import type { Quality, TunnelStatus, UpstreamStatus } from "../core/contracts.ts";
import { logger } from "../core/log.ts";
import type { ComponentFactory } from "../core/component.ts";

const log = logger("systemd");

export type NotifyFn = (state: string) => boolean;

/**
 * Returns a function that sends one sd_notify message, or null when not started by systemd (NOTIFY_SOCKET unset)
 * or libsystemd is missing. A direct library call, not a `systemd-notify` subprocess: that one races with its own
 * exit and systemd can drop its message because the sender is no longer the main PID.
 */
export function openNotifier(env: Record<string, string | undefined> = process.env): NotifyFn | null {
  if (!env.NOTIFY_SOCKET) return null;
  try {
    const lib = dlopen("libsystemd.so.0", { sd_notify: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 } });
    return (state) => {
      const buf = Buffer.from(state + "\0", "utf8");
      return lib.symbols.sd_notify(0, buf) > 0;
    };
  } catch (e) {
    log.debug("libsystemd.so.0 not available; not notifying systemd", { error: e });
    return null;
  }
}

/** Half of WATCHDOG_USEC in ms, or null when systemd asked for no watchdog (or asked another process). */
export function watchdogIntervalMs(env: Record<string, string | undefined> = process.env, pid = process.pid): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/** The one-line STATUS= text: upstreams, quality and tunnel at a glance, as `systemctl --user status` shows it. */
export function statusLine(s: { upstreams?: UpstreamStatus[]; quality?: Quality; tunnel?: TunnelStatus; rejected?: boolean; problem?: string | null }): string {
  const parts: string[] = [];
  if (s.upstreams) {
    const enabled = s.upstreams.filter((u) => u.enabled);
    const up = enabled.filter((u) => u.state === "up" || u.state === "degraded").length;
    // Quality describes the upstreams that serve: with none up it would only repeat the count.
    parts.push(`${up}/${enabled.length} upstreams up` + (s.quality && up ? ` (${s.quality})` : ""));
  }
  if (s.problem) parts.push(s.problem);
  if (s.tunnel) parts.push(s.tunnel.state === "disabled" ? "tunnel disabled" : `tunnel ${s.tunnel.state.replace("_", " ")}`);
  if (s.rejected) parts.push("config rejected, running the last good one");
  return parts.length ? parts.join(", ") : "running";
}

/** What statusLine() shows comes from these (config.reloaded: upstreams added, removed, enabled or disabled). */
const STATUS_EVENTS: EventType[] = ["upstream.state", "upstream.quality", "tunnel.state", "config.reloaded", "config.rejected", "shutdown"];

/** Notifies systemd: READY=1 after every earlier component started (so it goes last in COMPONENTS), then status. */
export const createSdNotifyComponent: ComponentFactory = (ctx) => {
  let notify: NotifyFn | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  let unsubscribe: (() => void) | null = null;
  let rejected = false;
  let stopping = false;
  let lastStatus = "";

  const current = () => {
    const broker = ctx.services.broker;
    const upstreams = broker?.upstreams();
    // The one verdict (src/core/verdict.ts): its problem, reason and fix, as status and the tray show them.
    const v = upstreams ? verdict(upstreams) : null;
    const problem = v && (v.level === "warning" || v.level === "critical") ? v.text : null;
    return statusLine({ upstreams, quality: v?.quality, tunnel: ctx.services.tunnel?.status(), rejected, problem });
  };
  const sendStatus = () => {
    if (!notify || stopping) return;
    const line = current();
    if (line === lastStatus) return;
    lastStatus = line;
    notify(`STATUS=${line}`);
  };
  const sendStopping = () => {
    if (!notify || stopping) return;
    stopping = true;
    notify("STOPPING=1\nSTATUS=stopping");
  };

  return {
    name: "systemd",
    async start() {
      notify = openNotifier();
      if (!notify) return;
      // Only the events the status line depends on: a "*" listener would make the broker build a record per request.
      const offs = STATUS_EVENTS.map((type) =>
        ctx.events.on(type, (e: DaemonEvent) => {
          if (e.type === "config.rejected") rejected = true;
          else if (e.type === "config.reloaded") rejected = false;
          if (e.type === "shutdown") sendStopping();
          else sendStatus();
        }),
      );
      unsubscribe = () => offs.forEach((off) => off());
      lastStatus = current();
      notify(`READY=1\nSTATUS=${lastStatus}\nMAINPID=${process.pid}`);
      const every = watchdogIntervalMs();
      if (every) {
        timer = setInterval(() => notify?.("WATCHDOG=1"), every);
        timer.unref?.();
      }
      log.info("notified systemd", { status: lastStatus, watchdogMs: every ?? undefined });
    },
    async apply() {
      sendStatus();
    },
    async stop() {
      sendStopping();
      if (timer) clearInterval(timer);
      unsubscribe?.();
      timer = null;
      unsubscribe = null;
    },
  };
};
