import { describe, expect, test } from "bun:test";
import { canonicalAddress, parseProcNetTcp, peerUid } from "./peer-uid.ts";

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:223D 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 240 1 0000000000000000 100 0 0 10 0
   1: 0100007F:223D 0100007F:B8DE 01 00000000:00000000 00:00000000 00000000  1000        0 0 3 0000000000000000
   2: 0100007F:B8DE 0100007F:223D 01 00000000:00000000 00:00000000 00000000  1001        0 0 3 0000000000000000
   3: garbage
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   1: 00000000000000000000000001000000:E8A2 00000000000000000000000001000000:223D 01 00000000:00000000 00:00000000 00000000  1002        0 3887388 2 0000000000000000 20 0 0 10 -1
   2: 0000000000000000FFFF00000100007F:C001 0000000000000000FFFF00000100007F:223D 01 00000000:00000000 00:00000000 00000000  1003        0 1 2 0000000000000000 20 0 0 10 -1
`;
const files = (p: string) => (p.endsWith("tcp6") ? TCP6 : TCP);

describe("peer-uid", () => {
  test("parses /proc/net/tcp rows: little-endian words, hex ports, the uid column; a malformed line is left out", () => {
    const rows = parseProcNetTcp(TCP);
    expect(rows).toHaveLength(3);
    expect(rows[2]).toEqual({ state: "01", local: "127.0.0.1", localPort: 0xb8de, remote: "127.0.0.1", remotePort: 0x223d, uid: 1001, inode: 0 });
    expect(rows[0]!.inode).toBe(240);
    expect(parseProcNetTcp(TCP6)[0]!.local).toBe(canonicalAddress("::1")!);
  });

  test("canonical addresses: IPv4-mapped IPv6 meets IPv4, :: expands, nonsense is null", () => {
    expect(canonicalAddress("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(canonicalAddress("::1")).toBe("00000000000000000000000000000001");
    expect(canonicalAddress("fe80::1:2")).toBe("fe800000000000000000000000010002");
    expect(canonicalAddress("1::2::3")).toBeNull();
    expect(canonicalAddress("not an address")).toBeNull();
  });

  test("the connecting side's row decides (not the listener's own accepted socket)", () => {
    // Our server listens on 0x223D (8765); the client connected from 0xB8DE: its row is uid 1001, ours 1000.
    expect(peerUid({ address: "127.0.0.1", port: 0xb8de }, 0x223d, files)).toBe(1001);
    expect(peerUid({ address: "::1", port: 0xe8a2 }, 0x223d, files)).toBe(1002);
    expect(peerUid({ address: "::ffff:127.0.0.1", port: 0xc001 }, 0x223d, files)).toBe(1003);
    expect(peerUid({ address: "127.0.0.1", port: 1 }, 0x223d, files)).toBeNull();
    expect(peerUid({ address: "127.0.0.2", port: 0xb8de }, 0x223d, files)).toBeNull();
  });

  test("a real loopback connection (IPv4 and IPv6) is found with this process's uid", async () => {
    for (const host of ["127.0.0.1", "::1"]) {
      let peer: { address: string; port: number } | undefined;
      const server = Bun.serve({
        hostname: host,
        port: 0,
        fetch(req, srv) {
          peer = srv.requestIP(req) ?? undefined;
          return new Response(String(peer ? peerUid(peer, srv.port!) : null));
        },
      });
      try {
        const res = await fetch(`http://${host.includes(":") ? `[${host}]` : host}:${server.port}/`);
        expect(await res.text()).toBe(String(process.getuid!()));
        expect(peer).toBeDefined();
      } finally {
        server.stop(true);
      }
    }
  });
});
