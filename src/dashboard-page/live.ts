// The page's live feed: one WebSocket to /ws (session cookie), reconnecting with backoff; no polling anywhere.
import type { WsMessage } from "../core/events.ts";

/** What /ws sends, typed once in src/core/events.ts (the tray reads the same union). */
export type LiveMessage = WsMessage;

export type LiveState = "connecting" | "live" | "offline";

/**
 * The daemon sends a metrics tick every second to a connected page, so this much silence means the connection is dead
 * though the browser has not noticed: a laptop woken from sleep, a proxy or NAT that dropped it without a FIN. TCP alone
 * would keep such a socket "open" for hours while the page showed stale state as live.
 */
export const SILENCE_MS = 6000;

/** The close code the daemon ends a page's feed with when its session ends (the API token rotated): src/api/component.ts. */
const SESSION_ENDED = 1008;

/**
 * `ended` answers whether the session is gone (asked when the daemon closed the feed with 1008): then the feed is not
 * knocked on again with it, and no "lost the connection" is said of a daemon that is there.
 */
export function connectLive(onMessage: (m: LiveMessage) => void, onState: (s: LiveState, attempt: number) => void, ended?: () => Promise<boolean>): { close(): void } {
  let ws: WebSocket | null = null;
  let attempt = 0;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let watchdog: ReturnType<typeof setTimeout> | undefined;

  const lost = () => {
    clearTimeout(watchdog);
    ws = null;
    if (closed) return;
    attempt++;
    onState("offline", attempt);
    // 0.5 s, 1 s, 2 s ... capped at 10 s: quick after a daemon restart, quiet when it stays away.
    const delay = Math.min(10_000, 500 * 2 ** Math.min(attempt - 1, 5));
    timer = setTimeout(open, delay);
  };
  /** Give up on a socket gone silent or never answered: detach it first, as its close event may come only after a long TCP timeout. */
  const heard = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      const dead = ws;
      if (!dead) return;
      dead.onclose = dead.onmessage = dead.onopen = null;
      dead.close();
      lost();
    }, SILENCE_MS);
  };

  const open = () => {
    onState("connecting", attempt);
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    const sock = new WebSocket(url);
    ws = sock;
    // A connection that is never answered (a daemon hung or stopped with SIGSTOP, a path that drops packets) is lost as
    // well: the browser would wait minutes for its handshake while the page said "Connecting…" and nothing else.
    heard();
    sock.onopen = () => {
      attempt = 0;
      heard();
      onState("live", 0);
    };
    sock.onmessage = (ev) => {
      heard();
      let m: LiveMessage;
      try {
        m = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (m && typeof m.type === "string") onMessage(m);
    };
    sock.onclose = (ev) => {
      if (ev.code !== SESSION_ENDED || !ended) return lost();
      clearTimeout(watchdog);
      ws = null;
      onState("offline", 0);
      void ended().then((gone) => {
        if (!gone) lost();
      });
    };
  };
  open();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      clearTimeout(watchdog);
      ws?.close();
    },
  };
}
