// A loopback port that never completes a connection: a listening socket (libc through bun:ffi) that is never
// accepted from, with its backlog of one filled, so the kernel drops every further SYN — a blackholed host, on loopback.
import { dlopen, FFIType, ptr } from "bun:ffi";

export interface Blackhole {
  port: number;
  close(): void;
}

export async function blackhole(): Promise<Blackhole> {
  const libc = dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    getsockname: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  });
  const fd = libc.symbols.socket(2 /* AF_INET */, 1 /* SOCK_STREAM */, 0);
  const addr = new Uint8Array(16);
  const view = new DataView(addr.buffer);
  view.setUint16(0, 2, true);
  addr.set([127, 0, 0, 1], 4);
  if (fd < 0 || libc.symbols.bind(fd, ptr(addr), 16) !== 0 || libc.symbols.listen(fd, 0) !== 0) throw new Error("cannot create the blackhole socket");
  const len = new Uint32Array([16]);
  libc.symbols.getsockname(fd, ptr(addr), ptr(len));
  const port = view.getUint16(2, false);
  // Fills the accept queue (backlog 0 still queues one connection).
  const filler = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
  return {
    port,
    close() {
      filler.terminate();
      libc.symbols.close(fd);
      libc.close();
    },
  };
}
