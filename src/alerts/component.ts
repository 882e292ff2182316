// The alerts component: runs the rules of `[alerts]` on daemon events, emits alert.raised/cleared, sends desktop notifications.
import { resolved } from "../config/resolve.ts";
import type { AlertsService } from "../core/contracts.ts";
import type { ComponentFactory } from "../core/component.ts";
import type { DaemonEvent } from "../core/events.ts";
import { logger } from "../core/log.ts";
import { createNotifier, type Notifier } from "../desktop/notify/notifier.ts";
import { alertNotification } from "../desktop/notify/messages.ts";
import { AlertEngine } from "./engine.ts";
import { realClock, type Clock } from "../core/clock.ts";
import { AlertRules, ruleSettings } from "./rules.ts";

const log = logger("alerts");

export interface AlertsOptions {
  clock?: Clock;
  notifier?: Notifier;
}

export function alertsComponentFactory(opts: AlertsOptions = {}): ComponentFactory {
  return (ctx) => {
    const clock = opts.clock ?? realClock;
    const cfg = () => ctx.config.current();
    const notifier = opts.notifier ?? createNotifier();
    const engine = new AlertEngine(
      (type, alert) => {
        log.info(type === "alert.raised" ? "alert raised" : "alert cleared", { id: alert.id, message: alert.message });
        ctx.events.emit(type, alert);
        const c = cfg().alerts;
        if (c.notifications) void notifier.send(alertNotification(type, alert));
      },
      resolved(cfg()).alerts.cooldown,
      clock,
    );
    const rules = new AlertRules(engine, ruleSettings(cfg()), () => ctx.services.broker, clock);
    let off: (() => void) | null = null;

    const service: AlertsService & { warnings(): string[] } = {
      active: () => engine.active(),
      notify: (n) => {
        if (cfg().alerts.notifications) void notifier.send(n);
      },
      warnings: () => {
        const w = notifier.warning();
        return w && cfg().alerts.notifications ? [w] : [];
      },
    };

    const listen = () => {
      off ??= ctx.events.on("*", (e: DaemonEvent) => {
        if (e.type !== "alert.raised" && e.type !== "alert.cleared") rules.onEvent(e);
      });
      // Auth and the tunnel start before us: a login_required or auth_failed they reported is only in their state now.
      rules.scan({ tunnel: ctx.services.tunnel?.status(), auth: ctx.services.auth?.status() });
    };
    const silence = () => {
      off?.();
      off = null;
      rules.stop();
      for (const a of engine.active()) engine.ends(a.id, "Alerts were turned off");
      engine.stop();
    };

    return {
      name: "alerts",
      async start() {
        ctx.services.alerts = service;
        if (cfg().alerts.enabled) listen();
      },
      async stop() {
        off?.();
        off = null;
        rules.stop();
        engine.stop();
      },
      async apply(next, prev, changed) {
        // What the rules read: [alerts], the tunnel's enabled flag, the metrics window and the upstreams' names.
        if (!changed.has("alerts") && !changed.has("tunnel") && !changed.has("metrics") && !changed.has("upstreams")) return;
        engine.setCooldown(resolved(next).alerts.cooldown);
        // An upstream taken out of the config, or disabled there, cannot recover (it is no longer checked): its alerts end here.
        const kept = new Set(next.upstreams.map((u) => u.name));
        const on = new Set(next.upstreams.filter((u) => u.enabled).map((u) => u.name));
        for (const u of prev.upstreams)
          if (!on.has(u.name))
            for (const rule of ["upstream_down", "quality", "error_rate"]) engine.ends(`${rule}:${u.name}`, `Upstream ${u.name} was ${kept.has(u.name) ? "disabled in" : "removed from"} the configuration`);
        rules.update(ruleSettings(next));
        if (next.alerts.enabled) listen();
        else silence();
      },
    };
  };
}

export const createAlertsComponent: ComponentFactory = alertsComponentFactory();
