// An object's D-Bus interface: its member table (methods, properties, signals with signatures) and the signals it emits.
import { Variant } from "./variant.ts";

export interface MemberTable {
  /** Method name -> in and out signatures; the method of the same name on the object runs it. */
  methods?: Record<string, { in: string; out: string }>;
  /** Property name -> signature; the getter of the same name reads it ("readwrite" lets Set assign it). */
  properties?: Record<string, { signature: string; access?: "read" | "readwrite" }>;
  /** Signal name -> signature. */
  signals?: Record<string, string>;
}

/** Where an exported interface's signals go: the connection sends them from each path the interface is exported at. */
export type SignalSink = (iface: string, member: string, signature: string, body: unknown[]) => void;

export const PROPERTIES = "org.freedesktop.DBus.Properties";

/**
 * The entry `name` of a member table, only if the table itself has it: names come from the bus, and "constructor" or
 * "toString" must not find Object.prototype's.
 */
export function member<T>(table: Record<string, T> | undefined, name: string): T | undefined {
  return table && Object.hasOwn(table, name) ? table[name] : undefined;
}

/**
 * The base of an object served on the bus. Subclasses declare their members in a table and implement them as
 * methods and getters of the same names (as dbus-next's Interface had it, so hosts see the same object).
 */
export abstract class DBusInterface {
  private sinks = new Set<SignalSink>();

  constructor(
    readonly interfaceName: string,
    readonly members: MemberTable,
  ) {}

  /** Listens to the signals this interface emits (the connection, and tests without a bus); returns the unsubscribe. */
  onSignal(sink: SignalSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  /** Emits signal `name` with `args` as its body, typed by the member table. */
  protected emit(name: string, ...args: unknown[]): void {
    const signature = member(this.members.signals, name);
    if (signature === undefined) throw new Error(`${this.interfaceName} declares no signal ${name}`);
    for (const s of this.sinks) s(this.interfaceName, name, signature, args);
  }

  /** Emits org.freedesktop.DBus.Properties.PropertiesChanged with the current values of `names`. */
  protected propertiesChanged(names: string[]): void {
    const changed: Record<string, Variant> = {};
    for (const n of names) changed[n] = this.propertyValue(n);
    for (const s of this.sinks) s(PROPERTIES, "PropertiesChanged", "sa{sv}as", [this.interfaceName, changed, []]);
  }

  /** A property's current value as a variant of its declared signature. */
  propertyValue(name: string): Variant {
    const p = member(this.members.properties, name);
    if (!p) throw new Error(`${this.interfaceName} declares no property ${name}`);
    return new Variant(p.signature, (this as unknown as Record<string, unknown>)[name]);
  }
}
