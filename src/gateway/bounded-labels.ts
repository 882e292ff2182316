// Owns the bound on one label's values per series family: the first N values of each (key, caller) keep their own
// series, later ones share the `other` series, so made-up model names cannot grow /metrics for the life of the process;
// a value `listed` says is real (a model an upstream lists) keeps its own past the bound, so they cannot push it out.

export class BoundedLabels {
  private readonly seen = new Map<string, Set<string>>();

  constructor(
    private readonly max: number,
    private readonly other: string,
    /** Asked only past the bound, for a value not seen yet: not on a request's path once its series exists. */
    private readonly listed: (value: string) => boolean = () => false,
  ) {}

  /** The label value to count `value` under for this key and caller class. */
  labelFor(key: string, caller: string, value: string): string {
    const id = `${key}\0${caller}`;
    let set = this.seen.get(id);
    if (!set) this.seen.set(id, (set = new Set()));
    if (set.has(value)) return value;
    if (value === this.other || (set.size >= this.max && !this.listed(value))) return this.other;
    set.add(value);
    return value;
  }
}
