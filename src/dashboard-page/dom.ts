// Tiny DOM helpers for the dashboard page: element builders that never parse HTML strings (no injection from data).
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | null | undefined>;

function apply(el: Element, attrs: Attrs | undefined): void {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
}

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "object" ? c : String(c));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function $<T extends Element = HTMLElement>(sel: string, root: ParentNode = document): T {
  const el = root.querySelector<T>(sel);
  if (!el) throw new Error(`dashboard: missing element ${sel}`);
  return el;
}

/** Sets text only when it changed (keeps screen readers and selection calm on every tick). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Leaves one class of `prefix` on the element: `prefix` + `value`. Nothing is touched when that is so already: a class
 * written again costs the browser a style recalculation, and the overview's cards follow every tick (200 upstreams).
 */
export function setClass(el: Element, prefix: string, value: string): void {
  const want = prefix + value;
  let ok = false;
  for (const c of el.classList) {
    if (c === want) ok = true;
    else if (c.startsWith(prefix)) {
      ok = false;
      break;
    }
  }
  if (ok) return;
  for (const c of [...el.classList]) if (c.startsWith(prefix)) el.classList.remove(c);
  el.classList.add(want);
}

/** Sets an attribute only when it changed (as setText: a tick that changes nothing writes nothing). */
export function setAttr(el: Element, name: string, value: string): void {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

/** Shows or hides an element only when that changes. */
export function setHidden(el: HTMLElement, hidden: boolean): void {
  if (el.hidden !== hidden) el.hidden = hidden;
}

let uid = 0;
export function nextId(prefix: string): string {
  return `${prefix}-${++uid}`;
}
