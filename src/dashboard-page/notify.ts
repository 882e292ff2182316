// Messages for the user: a polite live region for results, and the banner for lasting problems (daemon gone, session expired).
import { $, h, setText } from "./dom.ts";

let toastTimer: ReturnType<typeof setTimeout> | undefined;

/** A short message read out by screen readers and shown for a few seconds. */
export function toast(message: string, kind: "ok" | "error" | "info" = "info"): void {
  const el = $("#toast");
  el.className = `toast toast-${kind}`;
  setText(el, message);
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), kind === "error" ? 8000 : 4000);
}

/** A lasting message at the top; null removes it. */
export function banner(id: string, message: string | null, kind: "warn" | "error" = "warn"): void {
  const box = $("#banners");
  const existing = box.querySelector<HTMLElement>(`[data-banner="${id}"]`);
  if (message === null) {
    existing?.remove();
    return;
  }
  if (existing) {
    setText(existing, message);
    existing.className = `banner banner-${kind}`;
    return;
  }
  box.append(h("p", { class: `banner banner-${kind}`, "data-banner": id }, message));
}
