// The request inspector as a daemon component: keeps the last requests from `request.completed` events for the dashboard.
import type { Config } from "../config/schema.ts";
import type { ComponentFactory } from "../core/component.ts";
import { RequestRing, type InspectorOptions, type InspectorService } from "./ring.ts";

export function inspectorOptions(config: Config): InspectorOptions {
  const d = config.dashboard;
  return { size: d.inspector_size, captureBodies: d.capture_bodies, bodyCap: d.body_cap };
}

export const createInspectorComponent: ComponentFactory = (ctx) => {
  const ring = new RequestRing(inspectorOptions(ctx.config.current()));
  let off: (() => void) | null = null;
  const service: InspectorService = {
    list: (f) => ring.list(f),
    get: (id) => ring.get(id),
    options: () => ring.options(),
    size: () => ring.size(),
  };
  // With size 0 the ring keeps nothing: staying unsubscribed lets the broker skip building records nobody reads.
  const listen = () => {
    if (ring.options().size > 0) off ??= ctx.events.on("request.completed", (e) => void ring.add(e.data));
    else unlisten();
  };
  const unlisten = () => {
    off?.();
    off = null;
  };
  return {
    name: "inspector",
    async start() {
      listen();
      ctx.services.inspector = service;
    },
    async stop() {
      unlisten();
    },
    async apply(next, _prev, changed) {
      if (!changed.has("dashboard")) return;
      ring.configure(inspectorOptions(next));
      listen();
    },
  };
};
