// Merges bytecode-order profiles (BUN_BYTECODE_ORDER_OUT's "v2" text) into one: each section's entries in the order of
// the profiles given, each entry once, so what the first profile ran is laid out first and the rest follows it.
//
// The format as Bun writes it: "v2", then F, M and S lines (hashes), then K lines grouped under N lines (the first
// group has no N line). Only the order of entries is changed here; an unknown line is refused rather than guessed at.
export function mergeBytecodeOrders(profiles: string[]): string {
  const flat: Record<"F" | "M" | "S", string[]> = { F: [], M: [], S: [] };
  const seen = new Set<string>();
  const groups = new Map<string, string[]>(); // N line ("" for the first group) → its K lines
  for (const text of profiles) {
    const lines = text.split("\n").filter(Boolean);
    if (lines[0] !== "v2") throw new Error(`unknown bytecode-order format: ${JSON.stringify(lines[0])}`);
    let group = "";
    for (const l of lines.slice(1)) {
      const kind = l[0];
      if (kind === "F" || kind === "M" || kind === "S") {
        if (!seen.has(l)) flat[kind].push(l);
        seen.add(l);
      } else if (kind === "N") {
        group = l;
        if (!groups.has(l)) groups.set(l, []);
      }
      else if (kind === "K") {
        let g = groups.get(group);
        if (!g) groups.set(group, (g = []));
        if (!g.includes(l)) g.push(l);
      } else throw new Error(`unknown bytecode-order line: ${JSON.stringify(l)}`);
    }
  }
  const out = ["v2", ...flat.F, ...flat.M, ...flat.S];
  // The first group (no N line) first, then the others in the order first seen.
  const first = groups.get("");
  if (first) out.push(...first);
  for (const [n, ks] of groups) if (n) out.push(n, ...ks);
  return out.join("\n") + "\n";
}
