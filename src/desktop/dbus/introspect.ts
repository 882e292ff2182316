// Introspection XML for an object path: its interfaces' members from their tables, the standard interfaces, its child nodes.
import type { MemberTable } from "./interface.ts";
import { parseSignature, signatureOf } from "./signature.ts";

const DOCTYPE = '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">';

/** The interfaces every exported object answers, whatever it declares. */
export const STANDARD: [string, MemberTable][] = [
  ["org.freedesktop.DBus.Introspectable", { methods: { Introspect: { in: "", out: "s" } } }],
  ["org.freedesktop.DBus.Peer", { methods: { Ping: { in: "", out: "" } } }],
  [
    "org.freedesktop.DBus.Properties",
    {
      methods: { Get: { in: "ss", out: "v" }, GetAll: { in: "s", out: "a{sv}" }, Set: { in: "ssv", out: "" } },
      signals: { PropertiesChanged: "sa{sv}as" },
    },
  ],
];

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");
const args = (sig: string, dir?: "in" | "out") => parseSignature(sig).map((t) => `<arg type="${esc(signatureOf(t))}"${dir ? ` direction="${dir}"` : ""}/>`).join("");

function interfaceXml(name: string, m: MemberTable): string {
  const parts = [`<interface name="${esc(name)}">`];
  for (const [n, s] of Object.entries(m.methods ?? {})) parts.push(`<method name="${esc(n)}">${args(s.in, "in")}${args(s.out, "out")}</method>`);
  for (const [n, s] of Object.entries(m.signals ?? {})) parts.push(`<signal name="${esc(n)}">${args(s)}</signal>`);
  for (const [n, p] of Object.entries(m.properties ?? {})) parts.push(`<property name="${esc(n)}" type="${esc(p.signature)}" access="${p.access ?? "read"}"/>`);
  parts.push("</interface>");
  return parts.join("");
}

/** The XML for a path with `interfaces` (none for a path that only has children) and the names of its children. */
export function introspectionXml(interfaces: [string, MemberTable][], children: string[]): string {
  const own = interfaces.length ? [...STANDARD, ...interfaces] : STANDARD.slice(0, 1);
  return `${DOCTYPE}\n<node>${own.map(([n, m]) => interfaceXml(n, m)).join("")}${children.map((c) => `<node name="${esc(c)}"/>`).join("")}</node>\n`;
}
