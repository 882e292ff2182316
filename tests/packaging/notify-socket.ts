// A real AF_UNIX datagram socket for tests, opened through libc with bun:ffi (Bun has no unix dgram sockets).
import { dlopen, FFIType } from "bun:ffi";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const MSG_DONTWAIT = 0x40;

const libc = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
});

/** Listens like systemd's notify socket: every datagram becomes one message string. */
export class NotifySocket {
  readonly messages: string[] = [];
  private fd: number;
  private timer: ReturnType<typeof setInterval>;
  private buf = Buffer.alloc(65536);

  constructor(readonly path: string) {
    this.fd = libc.symbols.socket(AF_UNIX, SOCK_DGRAM, 0);
    if (this.fd < 0) throw new Error("socket(AF_UNIX, SOCK_DGRAM) failed");
    const addr = Buffer.alloc(110);
    addr.writeUInt16LE(AF_UNIX, 0);
    const p = Buffer.from(path, "utf8");
    if (p.length > 107) throw new Error(`socket path too long: ${path}`);
    p.copy(addr, 2);
    if (libc.symbols.bind(this.fd, addr, 2 + p.length + 1) !== 0) throw new Error(`bind(${path}) failed`);
    this.timer = setInterval(() => this.drain(), 10);
  }

  private drain(): void {
    for (;;) {
      const n = Number(libc.symbols.recv(this.fd, this.buf, this.buf.length, MSG_DONTWAIT));
      if (n < 0) return;
      this.messages.push(this.buf.subarray(0, n).toString("utf8"));
    }
  }

  /** Resolves with the first message from index `from` on that matches; rejects after timeoutMs with all received. */
  async waitFor(re: RegExp, from = 0, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.drain();
      const hit = this.messages.slice(from).find((m) => re.test(m));
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) throw new Error(`no notify message matched ${re}; got ${JSON.stringify(this.messages)}`);
      await Bun.sleep(10);
    }
  }

  close(): void {
    clearInterval(this.timer);
    libc.symbols.close(this.fd);
  }
}
