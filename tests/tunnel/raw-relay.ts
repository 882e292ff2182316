// A relay written on raw TCP (Bun.listen), for what Bun's WebSocket server will not do: stop reading the agent
// (pause) while writing frames as fast as the socket takes them.
import { createHash } from "node:crypto";
import type { Socket, TCPSocketListener } from "bun";
import { decodeMessage, encode } from "../../src/protocol/codec.ts";
import { CAPABILITIES, PROTOCOL_VERSION } from "../../src/protocol/messages.ts";
import { TUNNEL_ID } from "./helpers.ts";

/** One unmasked binary WebSocket frame (a server's) holding `payload`. */
export function wsFrame(payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const hl = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const b = new Uint8Array(hl + n);
  b[0] = 0x82;
  if (n < 126) b[1] = n;
  else if (n < 65536) {
    b[1] = 126;
    new DataView(b.buffer).setUint16(2, n);
  } else {
    b[1] = 127;
    new DataView(b.buffer).setBigUint64(2, BigInt(n));
  }
  b.set(payload, hl);
  return b;
}

type State = { buf: Uint8Array; upgraded: boolean; welcomed: boolean };

export interface RawRelay {
  port: number;
  /** The agent's latest connection, once its HELLO was answered with WELCOME. */
  agent: Socket<State> | null;
  /** Connections that reached WELCOME so far. */
  hellos: number;
  /** Writes `bytes` again and again to whichever connection is the latest, waiting on the socket when it is full, until stop(). */
  flood(bytes: Uint8Array): { stop(): void; sent(): number };
  stop(): void;
}

/** Answers the upgrade and the HELLO (WELCOME, every capability), then reads nothing more when `pause` (the default). */
export function startRawRelay(o: { pause?: boolean } = {}): RawRelay {
  const relay: RawRelay & { server?: TCPSocketListener<State> } = {
    port: 0,
    agent: null,
    hellos: 0,
    flood(bytes) {
      let stopped = false;
      let sent = 0;
      void (async () => {
        while (!stopped) {
          const s = relay.agent;
          let off = 0;
          // A frame cut by a full socket is finished on that socket (a new connection starts at a frame boundary).
          while (s && off < bytes.length && !stopped && s === relay.agent) {
            const w = s.write(bytes.subarray(off));
            if (w > 0) (off += w), (sent += w);
            if (off < bytes.length) await Bun.sleep(1);
          }
          await Bun.sleep(0);
        }
      })();
      return { stop: () => (stopped = true), sent: () => sent };
    },
    stop: () => relay.server?.stop(true),
  };
  relay.server = Bun.listen<State>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { buf: new Uint8Array(0), upgraded: false, welcomed: false };
      },
      data(s, chunk) {
        const d = s.data;
        if (d.welcomed) return;
        const all = new Uint8Array(d.buf.length + chunk.length);
        all.set(d.buf);
        all.set(chunk, d.buf.length);
        d.buf = all;
        if (!d.upgraded) {
          const text = new TextDecoder().decode(d.buf);
          const end = text.indexOf("\r\n\r\n");
          if (end < 0) return;
          const key = /sec-websocket-key: *(\S+)/i.exec(text)![1]!;
          const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
          s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
          d.upgraded = true;
          d.buf = d.buf.subarray(end + 4);
        }
        // The HELLO: one masked client frame.
        if (d.buf.length < 2) return;
        let n = d.buf[1]! & 127;
        let off = 2;
        if (n === 126) {
          n = (d.buf[2]! << 8) | d.buf[3]!;
          off = 4;
        }
        if (d.buf.length < off + 4 + n) return;
        const mask = d.buf.subarray(off, off + 4);
        const payload = d.buf.slice(off + 4, off + 4 + n);
        for (let i = 0; i < n; i++) payload[i]! ^= mask[i % 4]!;
        if (decodeMessage(payload).type !== "HELLO") throw new Error("expected HELLO");
        s.write(wsFrame(encode({ type: "WELCOME", stream: 0, body: { version: PROTOCOL_VERSION, capabilities: CAPABILITIES, tunnelId: TUNNEL_ID } })));
        d.welcomed = true;
        if (o.pause ?? true) s.pause();
        relay.agent = s;
        relay.hellos++;
      },
    },
  });
  relay.port = relay.server.port;
  return relay;
}
