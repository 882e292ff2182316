// Which top-level sections differ between two configs: computed once per reload and handed to every component.
import type { Config, Section } from "./schema.ts";

export function changedSections(a: Config, b: Config): Section[] {
  return (Object.keys(b) as Section[]).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/** The set form components receive in apply(next, prev, changed). */
export function changes(prev: Config, next: Config): ReadonlySet<Section> {
  return new Set(changedSections(prev, next));
}
