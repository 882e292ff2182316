// One connection to a message bus: the unix socket, SASL EXTERNAL, Hello, serials, calls and their replies, signals, served objects.
import type { Socket } from "bun";
import { logger } from "../../core/log.ts";
import { busSockets } from "../dbus-address.ts";
import { authRequest, BEGIN, MAX_AUTH_LINE, readAuthAnswer } from "./auth.ts";
import type { DBusInterface } from "./interface.ts";
import { decodeMessage, encodeMessage, MessageFlag, messageLength, MessageType, type Message } from "./message.ts";
import { ObjectTable } from "./object-table.ts";
import { DBusProtocolError } from "./protocol-error.ts";
import { DBusError } from "./variant.ts";

const log = logger("dbus");

export const BUS_NAME = "org.freedesktop.DBus";
export const BUS_PATH = "/org/freedesktop/DBus";
/** RequestName's flags (the specification's values). */
export const NameFlag = { ALLOW_REPLACEMENT: 1, REPLACE_EXISTING: 2, DO_NOT_QUEUE: 4 } as const;
/** How long a call waits for its reply unless told otherwise (libdbus's default). */
const DEFAULT_CALL_TIMEOUT_MS = 25_000;

export interface MethodCall {
  destination?: string;
  path: string;
  interface?: string;
  member: string;
  signature?: string;
  body?: unknown[];
}

/** Which signals a handler gets; each given field must equal the message's. */
export interface SignalMatch {
  sender?: string;
  path?: string;
  interface?: string;
  member?: string;
}

interface Pending {
  resolve(body: unknown[]): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class BusConnection {
  /** The unique name the bus gave this connection (":1.42"). */
  uniqueName = "";
  private socket: Socket | null = null;
  private serial = 0;
  private rx: Uint8Array = new Uint8Array(0);
  private tx: Uint8Array[] = [];
  private authed: ((error?: string) => void) | null = null;
  private readonly pending = new Map<number, Pending>();
  private readonly handlers = new Set<{ match: SignalMatch; handler: (body: unknown[], m: Message) => void }>();
  private readonly objects = new ObjectTable();
  private readonly exportedSignals = new Map<string, () => void>();
  private readonly closeListeners = new Set<(reason: string) => void>();
  private closedWith: string | null = null;

  /** Why the connection closed, or null while it is open. */
  get closed(): string | null {
    return this.closedWith;
  }

  /** Called with the reason when the connection ends without close() (the bus went away, it sent malformed bytes). */
  onClose(listener: (reason: string) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** @internal connectBus's steps: socket, authentication, Hello. */
  async start(socket: Socket, timeoutMs: number): Promise<void> {
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.authed?.(`no answer to authentication within ${timeoutMs} ms`), timeoutMs);
      this.authed = (error) => {
        clearTimeout(timer);
        this.authed = null;
        error ? reject(new Error(error)) : resolve();
      };
      this.write(new TextEncoder().encode(authRequest(process.getuid?.() ?? 0)));
    });
    this.uniqueName = (await this.call({ destination: BUS_NAME, path: BUS_PATH, interface: BUS_NAME, member: "Hello" }, timeoutMs))[0] as string;
  }

  /** @internal Bytes from the socket: the authentication line first, then messages. Never throws: bad bytes close the connection. */
  received(chunk: Uint8Array): void {
    if (this.closedWith) return;
    try {
      this.rx = this.rx.length ? Buffer.concat([this.rx, chunk]) : chunk;
      if (this.authed) {
        const end = Buffer.from(this.rx.buffer, this.rx.byteOffset, this.rx.length).indexOf("\r\n");
        if (end < 0) {
          if (this.rx.length > MAX_AUTH_LINE) this.authed(`the bus sent ${this.rx.length} bytes without ending its authentication line`);
          return;
        }
        const answer = readAuthAnswer(new TextDecoder().decode(this.rx.subarray(0, end)));
        this.rx = this.rx.subarray(end + 2);
        if (!answer.ok) return this.authed(answer.error);
        this.write(new TextEncoder().encode(BEGIN));
        this.authed();
      }
      let len: number;
      while ((len = messageLength(this.rx)) && this.rx.length >= len) {
        const m = decodeMessage(this.rx.subarray(0, len));
        this.rx = this.rx.subarray(len);
        this.dispatch(m);
      }
      // What is left is the start of the next message: copied (slice, a native copy; Uint8Array.from iterates and
      // costs an idle process MiBs of JIT), so the chunk it came in is not kept alive.
      if (this.rx.length) this.rx = this.rx.slice();
    } catch (e) {
      const why = e instanceof DBusProtocolError ? `malformed message from the bus: ${e.message}` : `could not read from the bus: ${(e as Error).message}`;
      this.lost(why);
    }
  }

  private dispatch(m: Message): void {
    if (m.type === MessageType.METHOD_RETURN || m.type === MessageType.ERROR) {
      const p = this.pending.get(m.replySerial!);
      if (!p) return;
      this.pending.delete(m.replySerial!);
      clearTimeout(p.timer);
      if (m.type === MessageType.METHOD_RETURN) p.resolve(m.body ?? []);
      else p.reject(new DBusError(m.errorName!, typeof m.body?.[0] === "string" ? m.body[0] : m.errorName!));
    } else if (m.type === MessageType.SIGNAL) {
      for (const { match, handler } of this.handlers) {
        if ((match.sender && match.sender !== m.sender) || (match.path && match.path !== m.path) || (match.interface && match.interface !== m.interface) || (match.member && match.member !== m.member)) continue;
        try {
          handler(m.body ?? [], m);
        } catch (e) {
          log.warn("a D-Bus signal handler failed", { member: m.member, error: e as Error });
        }
      }
    } else if (m.type === MessageType.METHOD_CALL) {
      void this.serve(m);
    }
    // Other types are ignored, as the specification asks.
  }

  private async serve(m: Message): Promise<void> {
    const wantsReply = !((m.flags ?? 0) & MessageFlag.NO_REPLY_EXPECTED);
    const error = (e: DBusError): Message => ({ type: MessageType.ERROR, replySerial: m.serial, destination: m.sender, errorName: e.type, signature: "s", body: [e.message] });
    let reply: Message;
    try {
      const r = await this.objects.handle(m);
      reply = { type: MessageType.METHOD_RETURN, replySerial: m.serial, destination: m.sender, signature: r.signature, body: r.body };
    } catch (e) {
      reply = error(e instanceof DBusError ? e : new DBusError("org.freedesktop.DBus.Error.Failed", String(e)));
    }
    if (!wantsReply || this.closedWith) return;
    try {
      this.send(reply);
    } catch (e) {
      if (this.closedWith) return;
      // The method returned something its out signature cannot carry: the caller gets an error, not silence.
      log.warn("a D-Bus method's answer does not fit its signature", { member: m.member, error: e as Error });
      try {
        this.send(error(new DBusError("org.freedesktop.DBus.Error.Failed", (e as Error).message)));
      } catch {
        // The connection closed in between: nobody is left to answer.
      }
    }
  }

  private write(bytes: Uint8Array): void {
    if (this.tx.length) {
      this.tx.push(bytes);
      return;
    }
    const n = this.socket!.write(bytes);
    if (n < 0) return this.lost("the bus socket is closed");
    if (n < bytes.length) this.tx.push(bytes.subarray(n));
  }

  /** @internal The socket can take more: what queued up goes out. */
  drained(): void {
    while (this.tx.length && this.socket && !this.closedWith) {
      const b = this.tx[0]!;
      const n = this.socket.write(b);
      if (n < 0) return this.lost("the bus socket is closed");
      if (n < b.length) {
        this.tx[0] = b.subarray(n);
        return;
      }
      this.tx.shift();
    }
  }

  /** Sends a message with the next serial (returned). */
  send(m: Message): number {
    if (this.closedWith) throw new Error(`the D-Bus connection is closed (${this.closedWith})`);
    this.serial = (this.serial % 0xffffffff) + 1;
    const bytes = encodeMessage({ ...m, serial: this.serial });
    this.write(bytes);
    return this.serial;
  }

  /** Calls a method; resolves with the reply's body, rejects with a DBusError (its `type` is the error name) or a closed connection. */
  call(c: MethodCall, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      let serial: number;
      try {
        serial = this.send({ type: MessageType.METHOD_CALL, ...c });
      } catch (e) {
        return reject(e);
      }
      const timer = setTimeout(() => {
        this.pending.delete(serial);
        reject(new Error(`${c.destination ?? "the bus"} did not answer ${c.member} within ${timeoutMs} ms (timed out)`));
      }, timeoutMs);
      timer.unref?.();
      this.pending.set(serial, { resolve, reject, timer });
    });
  }

  /** Calls a method of the bus itself (org.freedesktop.DBus) and returns the first value of its answer. */
  async callBus(member: string, signature = "", body: unknown[] = []): Promise<unknown> {
    return (await this.call({ destination: BUS_NAME, path: BUS_PATH, interface: BUS_NAME, member, signature, body }))[0];
  }

  requestName(name: string, flags = 0): Promise<number> {
    return this.callBus("RequestName", "su", [name, flags]) as Promise<number>;
  }
  releaseName(name: string): Promise<number> {
    return this.callBus("ReleaseName", "s", [name]) as Promise<number>;
  }
  /** Asks the bus to route the signals `rule` describes here (then onSignal sees them). */
  async addMatch(rule: string): Promise<void> {
    await this.callBus("AddMatch", "s", [rule]);
  }
  async removeMatch(rule: string): Promise<void> {
    await this.callBus("RemoveMatch", "s", [rule]);
  }

  /** Runs `handler` for each received signal that fits `match`; returns the unsubscribe. */
  onSignal(match: SignalMatch, handler: (body: unknown[], m: Message) => void): () => void {
    const h = { match, handler };
    this.handlers.add(h);
    return () => this.handlers.delete(h);
  }

  /** Serves `iface` at `path`: method calls, its properties, introspection; its signals are sent from there. */
  export(path: string, iface: DBusInterface): void {
    this.unexport(path, iface);
    this.objects.add(path, iface);
    const off = iface.onSignal((ifaceName, member, signature, body) => {
      if (this.closedWith) return;
      try {
        this.send({ type: MessageType.SIGNAL, path, interface: ifaceName, member, signature, body });
      } catch (e) {
        // A signal whose values do not fit its signature is our bug: said, not thrown into whoever changed the state.
        log.warn("could not send a D-Bus signal", { member, error: e as Error });
      }
    });
    this.exportedSignals.set(`${path}\n${iface.interfaceName}`, off);
  }

  unexport(path: string, iface: DBusInterface): void {
    this.exportedSignals.get(`${path}\n${iface.interfaceName}`)?.();
    this.exportedSignals.delete(`${path}\n${iface.interfaceName}`);
    this.objects.remove(path, iface);
  }

  /** @internal The connection ended on its own: pending calls fail, close listeners hear why. */
  lost(reason: string): void {
    if (this.closedWith) return;
    this.end(reason);
    this.authed?.(reason);
    for (const l of this.closeListeners) {
      try {
        l(reason);
      } catch (e) {
        log.warn("a D-Bus close listener failed", { error: e as Error });
      }
    }
  }

  private end(reason: string): void {
    this.closedWith = reason;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`the D-Bus connection closed: ${reason}`));
    }
    this.pending.clear();
    this.tx = [];
    this.rx = new Uint8Array(0);
    this.socket?.end();
  }

  /** Closes the connection (the close listeners are not called: the caller knows). */
  close(): void {
    if (!this.closedWith) this.end("closed by this process");
  }
}

/**
 * Connects to the bus at `address` (each unix socket it names in turn), authenticates and says Hello.
 * Rejects with why when none answers within `timeoutMs`.
 */
export async function connectBus(address: string, timeoutMs = 5000): Promise<BusConnection> {
  const sockets = busSockets(address);
  if (!sockets.length) throw new Error(`the D-Bus address "${address}" names no unix socket`);
  const errors: string[] = [];
  for (const s of sockets) {
    const conn = new BusConnection();
    const shown = s.abstract ? `abstract socket ${s.path.slice(1)}` : s.path;
    try {
      const socket = await Bun.connect({
        unix: s.path,
        socket: {
          data: (_s, d) => conn.received(d),
          drain: () => conn.drained(),
          close: () => conn.lost("the bus closed the connection"),
          error: (_s, e) => conn.lost(`socket error: ${e.message}`),
        },
      });
      await conn.start(socket, timeoutMs);
      return conn;
    } catch (e) {
      conn.close();
      errors.push(`${shown}: ${(e as Error).message}`);
    }
  }
  throw new Error(`could not connect to the D-Bus bus (${errors.join("; ")})`);
}
