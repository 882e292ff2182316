// The daemon's Prometheus registry: the broker and the tunnel register their counters and histograms here; GET /metrics renders it.
import { Registry } from "prom-client";

export const metricsRegistry = new Registry();
