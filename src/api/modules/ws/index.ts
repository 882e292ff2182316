// /ws: snapshot on connect, then typed events and metrics ticks (see messages.ts); Origin and token are checked before the upgrade.
import { Elysia } from "elysia";
import type { ServerWebSocket } from "bun";
import type { ApiDeps } from "../../deps.ts";
import { WsHub, type WsClient } from "./hub.ts";
import { redactUrlsIn } from "../../../net/redact-url.ts";

export const wsModule = (deps: ApiDeps, hub = new WsHub(deps.ctx)) => {
  const clients = new WeakMap<object, WsClient>();
  const clientOf = (raw: ServerWebSocket<unknown>): WsClient => {
    let c = clients.get(raw);
    if (!c)
      clients.set(
        raw,
        (c = {
          // Every message leaves through here: any URL in an event (an error quoting one, a config message) is redacted.
          send: (text) => raw.send(redactUrlsIn(text)),
          getBufferedAmount: () => raw.getBufferedAmount(),
          close: (code, reason) => raw.close(code, reason),
        }),
      );
    return c;
  };
  return new Elysia({ name: "ws" }).decorate("wsHub", hub).ws("/ws", {
    detail: {
      tags: ["events"],
      summary: "Live events (WebSocket): a snapshot, then typed events and a metrics tick every second",
      description: "Needs `Authorization: Bearer <token>`; browsers must come from an allowed Origin. Message types: see docs/api.md.",
    },
    open(ws) {
      hub.add(clientOf(ws.raw as ServerWebSocket<unknown>));
    },
    close(ws) {
      hub.remove(clientOf(ws.raw as ServerWebSocket<unknown>));
    },
    message() {
      // The stream is one-way; client messages are ignored.
    },
  });
};
