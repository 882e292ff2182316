// A loopback TCP link with latency each way, as between a reverse proxy and a relay on another host: data, a close
// (FIN) and a reset all arrive `ms` late and in order, so each end acts for that long on what it last heard.
import { connect, createServer, type Socket } from "node:net";

export interface LatencyLink {
  port: number;
  stop(): void;
}

export function startLatencyLink(target: number, ms: number): Promise<LatencyLink> {
  const sockets = new Set<Socket>();
  const later = (to: Socket, act: () => void) => setTimeout(() => to.destroyed || act(), ms);
  const pipe = (from: Socket, to: Socket) => {
    from.on("data", (d) => later(to, () => to.write(d)));
    from.on("end", () => later(to, () => to.end()));
    // A reset (the relay answering bytes sent into a socket it closed) reaches the other end as a reset.
    from.on("error", () => later(to, () => to.resetAndDestroy()));
  };
  const server = createServer({ allowHalfOpen: true }, (down) => {
    const up = connect({ port: target, host: "127.0.0.1", allowHalfOpen: true });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    }
    pipe(down, up);
    pipe(up, down);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as { port: number }).port,
        stop() {
          for (const s of sockets) s.destroy();
          server.close();
        },
      }),
    ),
  );
}
