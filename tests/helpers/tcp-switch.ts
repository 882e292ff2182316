// A loopback TCP proxy a test steers to fake network faults between real processes: silence() swallows every byte
// both ways and keeps connections open (a partition that drops packets), heal() ends that for new connections,
// strand() closes the client's side of the connections open now while the far end is left open and silent (a link
// that died on one side only: half-open), hold() keeps every byte back, in order, until release() passes them on (a
// moment held still: a reply or a message late, not lost), and `target` says where new connections go.
import { connect, createServer, type Socket } from "node:net";

export interface TcpSwitch {
  port: number;
  /** Where new connections are sent (a port on 127.0.0.1). */
  target: number;
  silence(): void;
  heal(): void;
  strand(): void;
  hold(): void;
  release(): void;
  stop(): void;
}

export function startTcpSwitch(target: number): Promise<TcpSwitch> {
  const pairs = new Set<{ down: Socket; up: Socket; mute: boolean }>();
  let silent = false;
  /** While held: the bytes of every connection, both ways, in the order they came. */
  let held: (() => void)[] | null = null;
  const pass = (to: Socket, d: Buffer | string) => (held ? held.push(() => to.write(d)) : to.write(d));
  const server = createServer((down) => {
    const pair = { down, up: connect({ port: sw.target, host: "127.0.0.1" }), mute: silent };
    pairs.add(pair);
    down.on("data", (d) => pair.mute || pass(pair.up, d));
    pair.up.on("data", (d) => pair.mute || pass(down, d));
    for (const [a, b] of [[down, pair.up], [pair.up, down]] as const) {
      a.on("error", () => {});
      a.on("close", () => {
        if (!pair.mute) b.destroy();
        if (down.destroyed && pair.up.destroyed) pairs.delete(pair);
      });
    }
  });
  const sw: TcpSwitch = {
    port: 0,
    target,
    silence() {
      silent = true;
      for (const p of pairs) p.mute = true;
    },
    heal() {
      silent = false;
      // The silenced connections stay dead, as after a real partition: their ends find out on their own.
    },
    strand() {
      for (const p of pairs) {
        p.mute = true;
        p.down.destroy();
      }
    },
    hold() {
      held ??= [];
    },
    release() {
      const q = held ?? [];
      held = null;
      for (const w of q) w();
    },
    stop() {
      for (const p of pairs) p.down.destroy(), p.up.destroy();
      server.close();
    },
  };
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(Object.assign(sw, { port: (server.address() as { port: number }).port }))));
}
