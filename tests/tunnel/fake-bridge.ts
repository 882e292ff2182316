// A 1.x bridge server for protocol = "bridge-v1" tests: takes the agent's WebSocket, answers auth success, and hands the test each JSON message and each close.
import type { ServerWebSocket } from "bun";

export interface FakeBridge {
  port: number;
  /** The agent's latest connection (a reconnect replaces it). */
  socket(): ServerWebSocket<unknown>;
  stop(): void;
}

export function startFakeBridge(o: { onMessage(msg: { type?: string; id?: unknown; data?: unknown }): void; onClose?(code: number, reason: string): void }): FakeBridge {
  let ws: ServerWebSocket<unknown> | null = null;
  const server = Bun.serve<unknown>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      if (srv.upgrade(req, { data: {} })) return;
      return new Response("upgrade", { status: 400 });
    },
    websocket: {
      // Larger than the agent's own limit, so the agent's refusal is what a test sees.
      maxPayloadLength: 64 * 1024 * 1024,
      open(s) {
        ws = s;
        s.send(JSON.stringify({ type: "auth", id: "a", data: { success: true, bridgeId: "b-1" } }));
      },
      close(_s, code, reason) {
        o.onClose?.(code, reason);
      },
      message(_s, m) {
        o.onMessage(JSON.parse(String(m)));
      },
    },
  });
  return {
    port: server.port!,
    socket: () => {
      if (!ws) throw new Error("the agent has not connected to the fake bridge");
      return ws;
    },
    stop: () => server.stop(true),
  };
}
