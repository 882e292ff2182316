// One log line per finished request (as `ollama serve` prints its GIN lines), from request.completed, while [logging] requests is on.
import type { ComponentFactory } from "../core/component.ts";
import type { RequestRecord } from "../core/contracts.ts";
import { logger } from "../core/log.ts";

const log = logger("request");

const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${Math.round(v)}ms`);

/** `200 POST /api/chat model=… upstream=… ttft=… tok_s=… took=…`: status first so a scan down the column finds the failures. */
export function requestLine(r: RequestRecord): { msg: string; fields: Record<string, unknown> } {
  const path = r.path.split("?")[0];
  return {
    msg: `${r.status || "---"} ${r.method} ${path}`,
    fields: {
      model: r.model ?? undefined,
      upstream: r.upstream ?? undefined,
      from: r.caller ?? r.source,
      key: r.key ?? undefined,
      ttft: r.ttfbMs === null ? undefined : ms(r.ttfbMs),
      tok_s: r.tokensPerSec === null ? undefined : r.tokensPerSec.toFixed(1),
      took: ms(r.durationMs),
      error: r.error ?? undefined,
    },
  };
}

export const createRequestLog: ComponentFactory = (ctx) => {
  let off: (() => void) | null = null;
  // Subscribed only while on: with nobody listening the broker skips building records (src/broker/exchange.ts).
  const follow = (on: boolean) => {
    if (on) off ??= ctx.events.on("request.completed", (e) => {
      const { msg, fields } = requestLine(e.data);
      log.info(msg, fields);
    });
    else {
      off?.();
      off = null;
    }
  };
  return {
    name: "request-log",
    async start() {
      follow(ctx.config.current().logging.requests);
    },
    async stop() {
      follow(false);
    },
    async apply(next, _prev, changed) {
      if (changed.has("logging")) follow(next.logging.requests);
    },
  };
};
