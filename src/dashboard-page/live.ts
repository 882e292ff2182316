// The page's live feed: one WebSocket to /ws (session cookie), reconnecting with backoff; no polling anywhere.
import type { WsMessage } from "../core/events.ts";

/** What /ws sends, typed once in src/core/events.ts (the tray reads the same union). */
export type LiveMessage = WsMessage;

export type LiveState = "connecting" | "live" | "offline";

export function connectLive(onMessage: (m: LiveMessage) => void, onState: (s: LiveState, attempt: number) => void): { close(): void } {
  let ws: WebSocket | null = null;
  let attempt = 0;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const open = () => {
    onState("connecting", attempt);
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    ws = new WebSocket(url);
    ws.onopen = () => {
      attempt = 0;
      onState("live", 0);
    };
    ws.onmessage = (ev) => {
      let m: LiveMessage;
      try {
        m = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (m && typeof m.type === "string") onMessage(m);
    };
    ws.onclose = () => {
      ws = null;
      if (closed) return;
      attempt++;
      onState("offline", attempt);
      // 0.5 s, 1 s, 2 s ... capped at 10 s: quick after a daemon restart, quiet when it stays away.
      const delay = Math.min(10_000, 500 * 2 ** Math.min(attempt - 1, 5));
      timer = setTimeout(open, delay);
    };
  };
  open();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      ws?.close();
    },
  };
}
