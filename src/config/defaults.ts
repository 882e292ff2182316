// Fills in a parsed config's missing values from a schema's defaults without TypeBox: the same steps as TypeBox's Value.Default for the kinds our config schemas use (tables, lists, values), on their plain copies (*.generated.ts).
import type { TSchema } from "@sinclair/typebox";

/** The parts of a schema node defaults read: a table's properties, a list's items, the default itself. */
interface DefaultsNode {
  type?: string;
  properties?: Record<string, DefaultsNode>;
  items?: DefaultsNode;
  default?: unknown;
}

// Written out, not as helpers: small functions called for every node get hot enough for the optimising JIT, whose
// compiler's pages an idle process then carries (docs/performance.md, Footprint).

/** The value, or a copy of the default where it is missing; a table over a table default keeps both (the value's keys win). */
function valueOrDefault(node: DefaultsNode, value: unknown): unknown {
  // Defaults are plain JSON (lists, tables, values): structuredClone copies them as TypeBox's Clone does.
  const copy = "default" in node ? structuredClone(node.default) : undefined;
  if (value === undefined) return copy;
  return value !== null && typeof value === "object" && copy !== null && typeof copy === "object" ? Object.assign(copy, value) : value;
}

function fromList(node: DefaultsNode, value: unknown): unknown {
  const list = Array.isArray(value) ? value : valueOrDefault(node, value);
  if (!Array.isArray(list)) return list;
  for (let i = 0; i < list.length; i++) list[i] = visit(node.items!, list[i]);
  return list;
}

function fromTable(node: DefaultsNode, value: unknown): unknown {
  const table = valueOrDefault(node, value) as Record<string, unknown>;
  if (table === null || typeof table !== "object") return table;
  // As TypeBox does: a key whose value stays undefined is not written (no `key: undefined` appears). TypeBox visits
  // each key twice (once to see whether it is undefined); a second visit only finds what the first filled in, so once is
  // enough here, and keeps this walk too short to be worth the optimising JIT at start-up.
  for (const key of Object.getOwnPropertyNames(node.properties)) {
    const child = node.properties![key]!;
    const cur = table[key];
    // A plain value, given or defaulted, is settled here without a call: most fields are one.
    const plainChild = !(child.type === "object" && child.properties) && !(child.type === "array" && child.items);
    const v =
      plainChild && cur !== undefined && (cur === null || typeof cur !== "object")
        ? cur
        : plainChild && cur === undefined && (child.default === null || typeof child.default !== "object")
          ? child.default
          : visit(child, cur);
    if (v !== undefined) table[key] = v;
  }
  return table;
}

function visit(node: DefaultsNode, value: unknown): unknown {
  if (node.type === "object" && node.properties) return fromTable(node, value);
  if (node.type === "array" && node.items) return fromList(node, value);
  return valueOrDefault(node, value);
}

/**
 * `value` with every missing value that has a default filled in; mutates and returns it (pass a copy), as
 * `Value.Default(schema, value)` would for a schema of tables, lists, values and unions of literals (the generator,
 * scripts/gen-config-check.ts, refuses any other kind; defaults.test.ts compares the two).
 */
export function applyDefaults(schema: TSchema, value: unknown): unknown {
  return visit(schema as DefaultsNode, value);
}
