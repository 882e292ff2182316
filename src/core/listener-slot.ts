// One listening socket that a reload can move: the new address is bound before the old one is closed, so a taken port leaves the old one serving.
import { splitListen } from "../config/listen.ts";
import { ListenError } from "./listen-error.ts";
import { logger } from "./log.ts";

const log = logger("daemon");

export interface SlotOptions<S> {
  /** The part, for log lines ("the control API"). */
  what: string;
  /** Binds `listen`; throws a ListenError when it cannot. */
  open(listen: string): S;
  /** Closes a socket this slot opened. */
  close(server: S): Promise<void>;
  /** The port a socket is bound to. */
  port(server: S): number | undefined;
}

interface Staged<S> {
  server: S;
  listen: string;
  /** The running socket was closed to make way (it held the same port on an overlapping address). */
  madeWay: boolean;
}

export class ListenerSlot<S> {
  private server: S | null = null;
  private address = "";
  private staged: Staged<S> | null = null;

  constructor(private readonly o: SlotOptions<S>) {}

  /** The socket that serves now, if any. */
  get current(): S | null {
    return this.server;
  }
  /** The address the running socket was bound with ("" when none). */
  get listen(): string {
    return this.server ? this.address : "";
  }

  /** First bind (start): throws a ListenError, leaving nothing bound. */
  start(listen: string): void {
    this.server = this.o.open(listen);
    this.address = listen;
  }

  /**
   * Binds `listen` beside the running socket, for commit() to take over. Throws a ListenError with the running socket
   * serving as before. Only when that socket is itself in the way (same port, overlapping address: 127.0.0.1:8765 →
   * 0.0.0.0:8765) is it closed first; if the new address still cannot be bound, the old one is bound again.
   */
  async stage(listen: string): Promise<void> {
    await this.release();
    try {
      this.staged = { server: this.o.open(listen), listen, madeWay: false };
      return;
    } catch (e) {
      const running = this.server;
      const port = splitListen(listen).port;
      if (!running || !(e instanceof ListenError) || e.errno !== "EADDRINUSE" || port === 0 || this.o.port(running) !== port) throw e;
    }
    await this.o.close(this.server!);
    this.server = null;
    try {
      this.staged = { server: this.o.open(listen), listen, madeWay: true };
    } catch (e) {
      this.reopen();
      throw e;
    }
  }

  /** Switches to the socket stage() bound for `listen` (binding it now when none was staged) and closes the old one. */
  async commit(listen: string): Promise<void> {
    if (this.staged?.listen !== listen) await this.stage(listen);
    const { server, madeWay } = this.staged!;
    const old = this.server;
    this.staged = null;
    this.server = server;
    this.address = listen;
    if (old && !madeWay) await this.o.close(old);
  }

  /** Drops a staged socket (the reload was refused): the running one serves on, bound again if it had made way. */
  async release(): Promise<void> {
    const s = this.staged;
    if (!s) return;
    this.staged = null;
    await this.o.close(s.server);
    if (s.madeWay) this.reopen();
  }

  async stop(): Promise<void> {
    await this.release();
    const s = this.server;
    this.server = null;
    if (s) await this.o.close(s);
  }

  private reopen(): void {
    try {
      this.server = this.o.open(this.address);
    } catch (e) {
      // Someone took the port in the instant it was free: nothing to keep serving on.
      this.server = null;
      log.error(`${(e as Error).message}; ${this.o.what} is off until the address changes`);
    }
  }
}
