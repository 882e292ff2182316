// Shape of GET /api/v1/metrics.
import { t } from "elysia";
import { Quality, UpstreamMetrics, UpstreamState } from "../../schemas.ts";

export const MetricsJson = t.Object({
  time: t.String(),
  quality: Quality,
  upstreams: t.Array(t.Object({ name: t.String(), state: UpstreamState, quality: Quality, metrics: UpstreamMetrics })),
  tunnel: t.Object({ state: t.String(), activeStreams: t.Number(), attempt: t.Number() }),
  process: t.Object({ uptimeSec: t.Number(), rssBytes: t.Number(), heapUsedBytes: t.Number() }),
});
