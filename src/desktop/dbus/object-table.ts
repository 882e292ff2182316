// The objects this connection serves: a method call finds its path and interface, Properties, Introspectable and Peer answer for every object.
import { member as entry, PROPERTIES, type DBusInterface } from "./interface.ts";
import { introspectionXml } from "./introspect.ts";
import type { Message } from "./message.ts";
import { parseSignature } from "./signature.ts";
import { DBusError, Variant } from "./variant.ts";

export interface Reply {
  signature: string;
  body: unknown[];
}

const E = "org.freedesktop.DBus.Error.";
type Standard = (t: ObjectTable, path: string, ifaces: Map<string, DBusInterface>, body: unknown[]) => Reply;

function findProperty(ifaces: Map<string, DBusInterface>, iface: string, name: string): DBusInterface {
  const candidates = iface ? [ifaces.get(iface)] : [...ifaces.values()];
  if (iface && !candidates[0]) throw new DBusError(`${E}UnknownInterface`, `no interface ${iface} here`);
  const owner = candidates.find((i) => i && entry(i.members.properties, name));
  if (!owner) throw new DBusError(`${E}UnknownProperty`, `no property ${name} on ${iface || "this object"}`);
  return owner;
}

/** The standard interfaces' methods, by "interface.member". */
const STANDARD_METHODS: Record<string, { in: string; run: Standard }> = {
  "org.freedesktop.DBus.Introspectable.Introspect": {
    in: "",
    run: (t, path, ifaces) => ({ signature: "s", body: [introspectionXml([...ifaces.values()].map((i) => [i.interfaceName, i.members]), t.childrenOf(path))] }),
  },
  "org.freedesktop.DBus.Peer.Ping": { in: "", run: () => ({ signature: "", body: [] }) },
  [`${PROPERTIES}.Get`]: {
    in: "ss",
    run: (_t, _p, ifaces, [iface, name]) => ({ signature: "v", body: [findProperty(ifaces, iface as string, name as string).propertyValue(name as string)] }),
  },
  [`${PROPERTIES}.GetAll`]: {
    in: "s",
    run: (_t, _p, ifaces, [iface]) => {
      const i = ifaces.get(iface as string);
      if (!i) throw new DBusError(`${E}UnknownInterface`, `no interface ${iface} here`);
      const all: Record<string, Variant> = {};
      for (const n of Object.keys(i.members.properties ?? {})) all[n] = i.propertyValue(n);
      return { signature: "a{sv}", body: [all] };
    },
  },
  [`${PROPERTIES}.Set`]: {
    in: "ssv",
    run: (_t, _p, ifaces, [iface, name, value]) => {
      const owner = findProperty(ifaces, iface as string, name as string);
      const p = entry(owner.members.properties, name as string)!;
      if (p.access !== "readwrite") throw new DBusError(`${E}PropertyReadOnly`, `property ${name} is read-only`);
      const v = value as Variant;
      if (v.signature !== p.signature) throw new DBusError(`${E}InvalidArgs`, `property ${name} has type "${p.signature}", not "${v.signature}"`);
      (owner as unknown as Record<string, unknown>)[name as string] = v.value;
      return { signature: "", body: [] };
    },
  },
};

export class ObjectTable {
  private readonly paths = new Map<string, Map<string, DBusInterface>>();

  add(path: string, iface: DBusInterface): void {
    let at = this.paths.get(path);
    if (!at) this.paths.set(path, (at = new Map()));
    at.set(iface.interfaceName, iface);
  }

  remove(path: string, iface: DBusInterface): void {
    const at = this.paths.get(path);
    if (at?.get(iface.interfaceName) === iface) at.delete(iface.interfaceName);
    // A path with nothing left is no object: calls to it get UnknownObject.
    if (at && !at.size) this.paths.delete(path);
  }

  /** The names of the nodes one level below `path` that lead to exported objects. */
  childrenOf(path: string): string[] {
    const prefix = path === "/" ? "/" : path + "/";
    const names = new Set<string>();
    for (const p of this.paths.keys()) if (p.startsWith(prefix) && p !== path) names.add(p.slice(prefix.length).split("/")[0]!);
    return [...names];
  }

  /** Runs a method call; throws DBusError for what the caller got wrong, and wraps what the method itself threw. */
  async handle(m: Message): Promise<Reply> {
    const path = m.path!;
    const member = m.member!;
    const body = m.body ?? [];
    const signature = m.signature ?? "";
    const ifaces = this.paths.get(path);
    // Without an interface, the object's own method of that name comes before a standard one (a "Get" of its own).
    const own = !m.interface && ifaces && [...ifaces.values()].some((i) => entry(i.members.methods, member));
    const standard = m.interface ? entry(STANDARD_METHODS, `${m.interface}.${member}`) : own ? undefined : Object.entries(STANDARD_METHODS).find(([k]) => k.endsWith(`.${member}`))?.[1];
    if (!ifaces) {
      // A path above exported objects still introspects, so tools can walk down to them.
      if (standard && member === "Introspect" && this.childrenOf(path).length) return standard.run(this, path, new Map(), body);
      throw new DBusError(`${E}UnknownObject`, `no object at ${path}`);
    }
    if (standard) {
      if (signature !== standard.in) throw new DBusError(`${E}InvalidArgs`, `${member} takes "${standard.in}", not "${signature}"`);
      return standard.run(this, path, ifaces, body);
    }
    const target = m.interface ? ifaces.get(m.interface) : [...ifaces.values()].find((i) => entry(i.members.methods, member));
    if (!target) throw new DBusError(m.interface ? `${E}UnknownInterface` : `${E}UnknownMethod`, m.interface ? `no interface ${m.interface} at ${path}` : `no method ${member} at ${path}`);
    const spec = entry(target.members.methods, member);
    if (!spec) throw new DBusError(`${E}UnknownMethod`, `no method ${member} in ${target.interfaceName}`);
    if (signature !== spec.in) throw new DBusError(`${E}InvalidArgs`, `${member} takes "${spec.in}", not "${signature}"`);
    let result: unknown;
    try {
      result = await (target as unknown as Record<string, (...a: unknown[]) => unknown>)[member]!(...body);
    } catch (e) {
      if (e instanceof DBusError) throw e;
      throw new DBusError(`${E}Failed`, (e as Error)?.message ?? String(e));
    }
    const outs = parseSignature(spec.out).length;
    return { signature: spec.out, body: outs === 0 ? [] : outs === 1 ? [result] : (result as unknown[]) };
  }
}
