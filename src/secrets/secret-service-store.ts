// The desktop keyring as a SecretStore: the freedesktop Secret Service (GNOME Keyring, KWallet, KeePassXC) over D-Bus.
import type { SecretStore } from "../core/contracts.ts";
import { registerSecret } from "../core/log.ts";
import { connectBus, type BusConnection } from "../desktop/dbus/connection.ts";
import { Variant } from "../desktop/dbus/variant.ts";
import { checkSecretName } from "../config/secret-names.ts";
import type { CodeOf } from "../core/error-codes.ts";
import { DH_ALGORITHM, DhKeyExchange, decryptSecret, encryptSecret } from "./dh-session.ts";

const DEST = "org.freedesktop.secrets";
const SERVICE_PATH = "/org/freedesktop/secrets";
const I_SERVICE = "org.freedesktop.Secret.Service";
const I_COLLECTION = "org.freedesktop.Secret.Collection";
const I_ITEM = "org.freedesktop.Secret.Item";
const I_PROPS = "org.freedesktop.DBus.Properties";

/** Attribute that marks our items; users can search for it in Seahorse or KWallet. */
export const APPLICATION = "cloudtolocalllm-tunnel";
export const itemLabel = (name: string) => `CloudToLocalLLM: ${name}`;

export class KeyringLockedError extends Error {
  override name = "KeyringLockedError";
  readonly code: CodeOf<"KeyringLockedError"> = "keyring_locked";
  constructor() {
    super("The desktop keyring is locked: unlock it (log in to the desktop session or open your keyring manager) and try again.");
  }
}

/** Thrown by probe() when there is no usable Secret Service; the message says why. */
export class NoSecretServiceError extends Error {
  override name = "NoSecretServiceError";
  readonly code: CodeOf<"NoSecretServiceError"> = "no_secret_service";
}


/** A Secret Service session: its object path, and the AES key of an encrypted one (null for "plain"). */
interface Session {
  path: string;
  key: Buffer | null;
}

export interface SecretServiceOptions {
  busAddress: string;
  /** Time allowed for each D-Bus call (service activation can be slow). Default 5 s. */
  callTimeoutMs?: number;
  /** "dh" (default) encrypts secrets on the bus and falls back to "plain" when the service cannot. */
  algorithm?: "dh" | "plain";
}

export class SecretServiceStore implements SecretStore {
  readonly backend = "secret-service" as const;
  warning: string | null = null;
  private bus: Promise<BusConnection> | null = null;
  /**
   * The open session, shared: callers at once (the daemon reads several secrets as it starts) must not each open one,
   * or a secret sent under one session's key is decrypted with another's (BAD_DECRYPT, or garbage taken for the value).
   */
  private session: Promise<Session> | null = null;
  private opened: Session | null = null;
  private readonly timeoutMs: number;

  constructor(private readonly opts: SecretServiceOptions) {
    this.timeoutMs = opts.callTimeoutMs ?? 5000;
  }

  private connect(): Promise<BusConnection> {
    if (this.bus) return this.bus;
    const bus = connectBus(this.opts.busAddress, this.timeoutMs).then((c) => {
      // A dropped connection must not crash the daemon: forget it and reconnect on the next call.
      c.onClose(() => this.forget(bus));
      return c;
    });
    bus.catch(() => this.forget(bus));
    this.bus = bus;
    return bus;
  }

  private forget(bus: Promise<BusConnection>): void {
    if (this.bus !== bus) return;
    this.bus = null;
    this.dropSession();
    bus.then(
      (c) => c.close(),
      () => {},
    );
  }

  private async call(path: string, iface: string, member: string, signature = "", body: unknown[] = []): Promise<any[]> {
    const bus = this.connect();
    try {
      return await (await bus).call({ destination: DEST, path, interface: iface, member, signature, body }, this.timeoutMs);
    } catch (e) {
      const name = (e as { type?: string }).type;
      if (name === "org.freedesktop.DBus.Error.ServiceUnknown" || name === "org.freedesktop.DBus.Error.NameHasNoOwner") {
        // The service is gone, and its sessions with it: a restarted one must be asked for a new session.
        this.dropSession();
        throw new NoSecretServiceError("No Secret Service (org.freedesktop.secrets) is running on the session bus.");
      }
      if (name === "org.freedesktop.Secret.Error.IsLocked") throw new KeyringLockedError();
      if (/timed out|did not answer/.test(String((e as Error).message))) this.forget(bus);
      throw e;
    }
  }

  private async prop(path: string, iface: string, name: string): Promise<any> {
    const [v] = await this.call(path, I_PROPS, "Get", "ss", [iface, name]);
    return (v as Variant).value;
  }

  private dropSession(): void {
    this.session = null;
    this.opened = null;
  }

  /**
   * Runs `op` with an open session. A keyring daemon that restarted (crash, D-Bus activation again) knows nothing of
   * the session opened with its predecessor and answers NoSession: a new session is opened and `op` tried once more.
   */
  private async withSession<T>(op: (session: Session) => Promise<T>): Promise<T> {
    const session = await this.openSession();
    try {
      return await op(session);
    } catch (e) {
      if ((e as { type?: string }).type !== "org.freedesktop.Secret.Error.NoSession") throw e;
      // Another caller may have opened the new one already.
      if (this.opened === session) this.dropSession();
      return await op(await this.openSession());
    }
  }

  /** Which transfer the current session uses (for tests and doctor). */
  get algorithm(): "dh" | "plain" | null {
    return this.opened ? (this.opened.key ? "dh" : "plain") : null;
  }

  private openSession(): Promise<Session> {
    if (this.session && this.bus) return this.session;
    const opening = this.negotiate().then((session) => {
      if (this.session === opening) this.opened = session;
      return session;
    });
    opening.catch(() => {
      if (this.session === opening) this.session = null;
    });
    return (this.session = opening);
  }

  private async negotiate(): Promise<Session> {
    if ((this.opts.algorithm ?? "dh") === "dh") {
      const dh = new DhKeyExchange();
      try {
        const [output, path] = await this.call(SERVICE_PATH, I_SERVICE, "OpenSession", "sv", [DH_ALGORITHM, new Variant("ay", dh.publicKey)]);
        return { path: path as string, key: dh.deriveKey((output as Variant).value as Buffer) };
      } catch (e) {
        if ((e as { type?: string }).type !== "org.freedesktop.DBus.Error.NotSupported") throw e;
      }
    }
    // "plain" sends the secret unencrypted over the per-user bus socket, as libsecret does when it must.
    const [, path] = await this.call(SERVICE_PATH, I_SERVICE, "OpenSession", "sv", ["plain", new Variant("s", "")]);
    return { path: path as string, key: null };
  }

  /** The default collection's object path; throws when it is missing or locked. */
  private async defaultCollection(): Promise<string> {
    const [path] = await this.call(SERVICE_PATH, I_SERVICE, "ReadAlias", "s", ["default"]);
    if (!path || path === "/") {
      throw new NoSecretServiceError(
        "The Secret Service has no default keyring (collection alias \"default\"); create one in your keyring manager.",
      );
    }
    if (await this.prop(path, I_COLLECTION, "Locked")) throw new KeyringLockedError();
    return path;
  }

  /** Checks that the service answers and a default, unlocked keyring exists; sets `warning` when it is locked. */
  async probe(): Promise<void> {
    try {
      await this.defaultCollection();
      this.warning = null;
    } catch (e) {
      if (e instanceof KeyringLockedError) {
        this.warning = e.message;
        return;
      }
      throw e;
    }
  }

  /** Probes again: the keyring may have been locked or unlocked since the store was opened (the warning follows). */
  async checkWritable(): Promise<string | null> {
    try {
      await this.probe();
      return this.warning;
    } catch (e) {
      return (e as Error).message;
    }
  }

  private async find(name: string): Promise<{ unlocked: string[]; locked: string[] }> {
    const [unlocked, locked] = await this.call(SERVICE_PATH, I_SERVICE, "SearchItems", "a{ss}", [{ application: APPLICATION, name }]);
    return { unlocked: unlocked as string[], locked: locked as string[] };
  }

  async get(name: string): Promise<string | null> {
    checkSecretName(name);
    const { unlocked, locked } = await this.find(name);
    if (!unlocked.length) {
      if (locked.length) throw new KeyringLockedError();
      return null;
    }
    const value = await this.withSession(async ({ path, key }) => {
      const [secret] = await this.call(unlocked[0]!, I_ITEM, "GetSecret", "o", [path]);
      const [, params, bytes] = secret as [string, Buffer, Buffer, string];
      return (key ? decryptSecret(key, params, bytes) : Buffer.from(bytes)).toString("utf8");
    });
    registerSecret(value);
    return value;
  }

  async set(name: string, value: string): Promise<void> {
    checkSecretName(name);
    registerSecret(value);
    const collection = await this.defaultCollection();
    const props = {
      "org.freedesktop.Secret.Item.Label": new Variant("s", itemLabel(name)),
      "org.freedesktop.Secret.Item.Attributes": new Variant("a{ss}", { application: APPLICATION, name }),
    };
    const plain = Buffer.from(value, "utf8");
    const [, prompt] = await this.withSession(async ({ path, key }) => {
      const { iv, value: bytes } = key ? encryptSecret(key, plain) : { iv: Buffer.alloc(0), value: plain };
      const secret = [path, iv, bytes, "text/plain; charset=utf8"];
      // replace=true: an item with the same attributes is updated in place instead of duplicated.
      return await this.call(collection, I_COLLECTION, "CreateItem", "a{sv}(oayays)b", [props, secret, true]);
    });
    if (prompt && prompt !== "/") throw new KeyringLockedError();
    // Items stored earlier in another collection would shadow this one on get(): remove them.
    const { unlocked } = await this.find(name);
    for (const item of unlocked) if (!item.startsWith(collection + "/")) await this.call(item, I_ITEM, "Delete");
  }

  async delete(name: string): Promise<boolean> {
    checkSecretName(name);
    const { unlocked, locked } = await this.find(name);
    if (!unlocked.length && locked.length) throw new KeyringLockedError();
    for (const item of unlocked) {
      const [prompt] = await this.call(item, I_ITEM, "Delete");
      if (prompt && prompt !== "/") throw new KeyringLockedError();
    }
    return unlocked.length > 0;
  }

  async list(): Promise<string[]> {
    const [unlocked, locked] = await this.call(SERVICE_PATH, I_SERVICE, "SearchItems", "a{ss}", [{ application: APPLICATION }]);
    const names = new Set<string>();
    for (const item of [...(unlocked as string[]), ...(locked as string[])]) {
      const attrs = (await this.prop(item, I_ITEM, "Attributes")) as Record<string, string>;
      if (attrs?.name) names.add(attrs.name);
    }
    return [...names].sort();
  }

  async close(): Promise<void> {
    const bus = this.bus;
    if (!bus) return;
    if (this.opened) await this.call(this.opened.path, "org.freedesktop.Secret.Session", "Close").catch(() => {});
    this.forget(bus);
  }
}
