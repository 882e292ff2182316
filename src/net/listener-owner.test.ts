// Reading who listens on a port from /proc/net/tcp{,6}: the state, the port, the addresses a loopback connection reaches.
import { expect, test } from "bun:test";
import { listenerUidsIn, loopbackListenerUids } from "./listener-owner.ts";

const HEAD = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const row = (local: string, st: string, uid: number) => `   0: ${local} 00000000:0000 ${st} 00000000:00000000 00:00000000 00000000  ${uid}        0 1234 1`;

test("listeners on the port at a loopback or wildcard address count; other ports, states and addresses do not", () => {
  const tcp = [
    HEAD,
    row("0100007F:223D", "0A", 1000), // 127.0.0.1:8765
    row("00000000:223D", "0A", 1001), // 0.0.0.0:8765
    row("0501A8C0:223D", "0A", 1002), // 192.168.1.5:8765: a connection to 127.0.0.1 never lands there
    row("0100007F:223E", "0A", 1003), // another port
    row("0100007F:223D", "01", 1004), // an established connection, not a listener
  ].join("\n");
  const tcp6 = [
    HEAD,
    row("00000000000000000000000001000000:223D", "0A", 1005), // [::1]:8765
    row("00000000000000000000000000000000:223D", "0A", 1006), // [::]:8765
    row("0000000000000000FFFF00000100007F:223D", "0A", 1007), // [::ffff:127.0.0.1]:8765
    row("B80D0120000000000000000001000000:223D", "0A", 1008), // 2001:db8::1
  ].join("\n");
  expect(listenerUidsIn([tcp, tcp6], 8765).sort()).toEqual([1000, 1001, 1005, 1006, 1007]);
  expect(listenerUidsIn([tcp], 1)).toEqual([]);
});

test("on this machine, a socket this process listens on is found with this process's uid", () => {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  try {
    const uids = loopbackListenerUids(server.port!);
    if (uids === null) return; // not Linux: the system does not say
    expect(uids).toEqual([process.getuid!()]);
  } finally {
    server.stop(true);
  }
});
