// GET /api/v1/metrics (JSON) and GET /metrics (Prometheus text exposition format).
import { Elysia, t } from "elysia";
import type { ApiDeps } from "../../deps.ts";
import { access } from "../../security/access.ts";
import { MetricsJson } from "./model.ts";
import { daemonRegistry, metricsJson, prometheusText } from "./service.ts";

export const metricsModule = (deps: ApiDeps) => {
  const registry = daemonRegistry(deps.ctx);
  return new Elysia().use(access)
    .get("/api/v1/metrics", () => metricsJson(deps.ctx), {
      response: { 200: MetricsJson },
      access: "public", detail: { tags: ["metrics"], summary: "Per-upstream and tunnel metrics as JSON" },
    })
    .get("/metrics", async () => new Response(await prometheusText(registry), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } }), {
      response: { 200: t.String({ examples: ['cloudtolocalllm_upstream_up{upstream="local"} 1'] }) },
      access: "public", detail: { tags: ["metrics"], summary: "Prometheus metrics: proxy and tunnel counters and histograms per upstream, daemon gauges" },
    });
};
