// Samples every upstream's metrics into the charts' 15-minute history, so a dashboard opened now shows the recent past.
import type { ComponentFactory } from "../core/component.ts";
import { History, type Point } from "./metrics-history.ts";

/** One sample every 5 s: 180 points per upstream for the 15 minutes (the page adds 1-second points while open). */
export const SAMPLE_MS = 5000;

import type { MetricsHistoryService } from "../core/contracts.ts";

export type { MetricsHistoryService };

export function createMetricsHistoryComponent(sampleMs = SAMPLE_MS): ComponentFactory {
  return (ctx) => {
    const history = new History();
    let timer: ReturnType<typeof setInterval> | null = null;
    const sample = () => {
      const broker = ctx.services.broker;
      if (!broker) return;
      const now = Date.now();
      const list = broker.upstreams();
      history.retain(new Set(list.map((u) => u.name)));
      for (const u of list) history.add(u.name, now, u.metrics);
    };
    return {
      name: "metrics-history",
      async start() {
        ctx.services.metricsHistory = { intervalMs: sampleMs, all: () => history.all() } satisfies MetricsHistoryService;
        timer = setInterval(sample, sampleMs);
        // Sampling must never keep a stopping daemon alive.
        (timer as { unref?: () => void }).unref?.();
      },
      async stop() {
        if (timer) clearInterval(timer);
        timer = null;
      },
    };
  };
}

export const createMetricsHistory: ComponentFactory = createMetricsHistoryComponent();
