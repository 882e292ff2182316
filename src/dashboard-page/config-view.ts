// The configuration tab: a form for the common settings, a TOML editor for everything, backups, import and export.
// Every check is the API's (POST /api/v1/config/validate, PUT /api/v1/config); errors are shown at the field or line they name.
import type { UpstreamConfig } from "../config/schema.ts";
import { DEFAULT_KIND, KIND_NAMES, KINDS } from "../kinds/index.ts";
import { api, ApiError, call, type Issue } from "./api.ts";
import { $, h, setText } from "./dom.ts";
import { toast } from "./notify.ts";
import { getPath, setPath } from "./paths.ts";

type Json = Record<string, unknown>;

/** The form field an issue belongs to: its own path, else the nearest field above it (a missing key points at its table). */
function fieldFor(form: HTMLElement, path: string): HTMLElement | null {
  let p = path;
  while (p) {
    const el = form.querySelector<HTMLElement>(`[data-path="${CSS.escape(p)}"]`);
    if (el) return el;
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    if (cut <= 0) break;
    p = p.slice(0, cut);
  }
  return null;
}

function describe(issue: Issue): string {
  const where = issue.line ? `line ${issue.line}${issue.column ? `, column ${issue.column}` : ""}` : "";
  return [where, issue.path, issue.message].filter(Boolean).join(": ");
}

export class ConfigView {
  private config: Json | null = null;
  /** The config the form was filled from: a field is written only when the user changed it from this. */
  private formBase: Json | null = null;
  /** Upstream rows were added or removed since the form was filled. */
  private rowsEdited = false;
  private text = "";
  /** The ETag of the file `text` was loaded with (sent as If-Match by the editor's save). */
  private etag: string | null = null;
  private formDirty = false;
  private editorDirty = false;
  private readonly form = $<HTMLFormElement>("#config-form");
  private readonly editor = $<HTMLTextAreaElement>("#toml-editor");
  private readonly upstreamRows = $<HTMLTableSectionElement>("#cfg-upstreams");
  private loaded = false;
  /** When this page last asked for a change: the reload event that follows needs no second message. */
  private changedAt = 0;

  constructor() {
    this.form.addEventListener("input", () => (this.formDirty = true));
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.saveForm();
    });
    $("#cfg-reset").addEventListener("click", () => void this.load({ form: true }));
    $("#cfg-add-upstream").addEventListener("click", () => {
      this.formDirty = true;
      this.rowsEdited = true;
      const n = this.upstreamRows.rows.length;
      const row = this.upstreamRow({ name: `upstream${n + 1}`, kind: DEFAULT_KIND, url: KINDS[DEFAULT_KIND].defaultUrl, priority: 100, enabled: true } as UpstreamConfig, n);
      delete row.dataset.origin; // a new upstream: no entry of the file underneath
      this.upstreamRows.append(row);
      this.upstreamRows.rows[n]?.querySelector<HTMLInputElement>("input")?.focus();
    });
    this.editor.addEventListener("input", () => {
      this.editorDirty = true;
      this.updateGutter();
    });
    this.editor.addEventListener("scroll", () => ($("#toml-gutter").scrollTop = this.editor.scrollTop));
    this.editor.addEventListener("keydown", (e) => {
      // Tab indents inside the editor; Escape then Tab leaves it (keyboard users are never trapped).
      if (e.key === "Tab" && !e.shiftKey && this.editor.dataset.escaped !== "1") {
        e.preventDefault();
        this.editor.setRangeText("  ", this.editor.selectionStart, this.editor.selectionEnd, "end");
        this.editorDirty = true;
      }
      this.editor.dataset.escaped = e.key === "Escape" ? "1" : "";
    });
    $("#toml-validate").addEventListener("click", () => void this.validateText());
    $("#toml-save").addEventListener("click", () => void this.saveText());
    $("#toml-revert").addEventListener("click", () => void this.load({ editor: true }));
    $("#backups-refresh").addEventListener("click", () => void this.loadBackups());
    $("#config-export").addEventListener("click", () => void this.exportFile());
    $<HTMLInputElement>("#config-import").addEventListener("change", (e) => void this.importFile(e.target as HTMLInputElement));
  }

  isLoaded(): boolean {
    return this.loaded;
  }

  /** Loads config, TOML text and backups; `reset` drops unsaved edits in the form, the editor or both. */
  async load(reset: { form?: boolean; editor?: boolean } = {}): Promise<void> {
    try {
      const [cfg, file] = await Promise.all([call<Json>("GET", "/api/v1/config"), api.send("GET", "/api/v1/config/export", { asText: true })]);
      const text = file.body as string;
      // The file's version the editor's save is based on: a change the page never loaded (its /ws feed quiet) is not overwritten.
      this.etag = file.etag ?? null;
      this.config = (cfg.config as Json | undefined) ?? cfg;
      const changedOnDisk = this.loaded && text !== this.text;
      this.text = text;
      if (reset.form || !this.formDirty) this.fillForm();
      if (reset.editor || !this.editorDirty) {
        this.editor.value = text;
        this.editorDirty = false;
        this.updateGutter();
        this.showEditorIssues([]);
        if (reset.editor) setText($("#toml-status"), "");
      } else if (changedOnDisk) {
        // The editor holds the whole file: saving it now would silently undo the other change.
        setText($("#toml-status"), "The file changed since you began editing: Revert shows it; Save and apply replaces it with your text.");
      }
      this.loaded = true;
      setText($("#config-load-error"), "");
    } catch (e) {
      setText($("#config-load-error"), (e as Error).message);
    }
    void this.loadBackups();
  }

  /** A reload happened (maybe from an editor on disk): refresh whatever the user is not editing. */
  reloaded(): void {
    if (this.loaded) void this.load();
  }

  /** True when the reload was this page's own doing (it already said so). */
  changedHere(): boolean {
    return Date.now() - this.changedAt < 5000;
  }

  private fillForm(): void {
    const cfg = this.config!;
    this.clearFormIssues();
    for (const el of this.form.querySelectorAll<HTMLInputElement | HTMLSelectElement>("[data-path]:not([data-row])")) {
      const v = getPath(cfg, el.dataset.path!);
      if (el instanceof HTMLInputElement && el.type === "checkbox") el.checked = v === true;
      else el.value = v === undefined || v === null ? "" : String(v);
    }
    const ups = (cfg.upstreams as UpstreamConfig[] | undefined) ?? [];
    this.rowSeq = 0;
    this.upstreamRows.replaceChildren(...ups.map((u, i) => this.upstreamRow(u, i)));
    for (const el of this.form.querySelectorAll<HTMLInputElement | HTMLSelectElement>("[data-path]")) el.dataset.initial = JSON.stringify(readField(el));
    this.formBase = structuredClone(cfg);
    this.formDirty = false;
    this.rowsEdited = false;
  }

  private rowSeq = 0;

  private upstreamRow(u: UpstreamConfig, i: number): HTMLTableRowElement {
    // Element ids stay unique across adds and removals; data-path carries the row's current index.
    const seq = this.rowSeq++;
    const id = (f: string) => `cfg-up-${seq}-${f}`;
    const input = (f: string, label: string, attrs: Record<string, string | number | boolean>) =>
      h("td", {}, h("label", { for: id(f), class: "sr-only" }, `Upstream ${i + 1} ${label}`), h("input", { id: id(f), "data-path": `upstreams[${i}].${f}`, "data-row": i, ...attrs }), h("span", { class: "field-error", id: `${id(f)}-err`, hidden: true }));
    // One option per kind in the table (src/kinds/), its label as the tooltip.
    const kind = h("select", { id: id("kind"), "data-path": `upstreams[${i}].kind`, "data-row": i }, ...KIND_NAMES.map((k) => h("option", { value: k, title: `${KINDS[k].label}: ${KINDS[k].summary}` }, k)));
    kind.value = u.kind ?? DEFAULT_KIND;
    const remove = h("button", { type: "button", class: "secondary", "aria-label": `Remove upstream ${u.name}` }, "Remove");
    const tr = h(
      "tr",
      { "data-index": i, "data-origin": i },
      input("name", "name", { value: u.name ?? "", required: true, autocomplete: "off" }),
      h("td", {}, h("label", { for: id("kind"), class: "sr-only" }, `Upstream ${i + 1} kind`), kind, h("span", { class: "field-error", id: `${id("kind")}-err`, hidden: true })),
      input("url", "URL", { value: u.url ?? "", type: "text", inputmode: "url", autocomplete: "off", class: "wide" }),
      input("priority", "priority", { value: u.priority ?? 100, type: "number", min: 0, class: "narrow" }),
      input("enabled", "enabled", { type: "checkbox", checked: u.enabled !== false }),
      h("td", {}, remove),
    );
    remove.addEventListener("click", () => {
      this.formDirty = true;
      this.rowsEdited = true;
      tr.remove();
    });
    return tr;
  }

  /**
   * The latest config with only what the user changed in the form written over it: a setting edited in the file (and
   * hot-reloaded) while the form was open is kept, not put back to what the form was filled with.
   */
  private formValue(): Json {
    const out = structuredClone(this.config ?? {}) as Json;
    const changed = (el: HTMLInputElement | HTMLSelectElement) => JSON.stringify(readField(el)) !== el.dataset.initial;
    for (const el of this.form.querySelectorAll<HTMLInputElement | HTMLSelectElement>("[data-path]:not([data-row])")) {
      if (changed(el)) setPath(out, el.dataset.path!, readField(el));
    }
    // The upstream table as a whole: untouched, the latest list stands; edited, the table as shown (on the rows it was filled from).
    if (!this.rowsEdited && ![...this.upstreamRows.querySelectorAll<HTMLInputElement | HTMLSelectElement>("[data-path]")].some(changed)) return out;
    const filled = (this.formBase?.upstreams as Json[] | undefined) ?? [];
    const latest = (this.config?.upstreams as Json[] | undefined) ?? [];
    const ups: Json[] = [];
    for (const tr of this.upstreamRows.rows) {
      // A row from the file: its latest entry (by the name it had), with the cells the user changed written over it.
      const base = tr.dataset.origin !== undefined ? filled[Number(tr.dataset.origin)] : undefined;
      const u: Json = structuredClone((base && latest.find((x) => x.name === base.name)) ?? base ?? {});
      for (const el of tr.querySelectorAll<HTMLInputElement | HTMLSelectElement>("[data-path]")) {
        const key = el.dataset.path!.replace(/^upstreams\[\d+\]\./, "");
        if (!base || changed(el)) u[key] = readField(el);
      }
      ups.push(u);
    }
    // Re-number rows so issue paths (upstreams[i].x) match what is on screen after removals.
    [...this.upstreamRows.rows].forEach((tr, i) => {
      tr.dataset.index = String(i);
      for (const el of tr.querySelectorAll<HTMLElement>("[data-path]")) el.dataset.path = el.dataset.path!.replace(/^upstreams\[\d+\]/, `upstreams[${i}]`);
    });
    out.upstreams = ups;
    return out;
  }

  private async saveForm(): Promise<void> {
    this.clearFormIssues();
    const status = $("#config-form-status");
    setText(status, "Saving…");
    const value = this.formValue();
    try {
      this.changedAt = Date.now();
      await call("PUT", "/api/v1/config", { json: value });
      this.formDirty = false;
      setText(status, "Saved. The daemon applied the new configuration.");
      toast("Configuration saved and applied.", "ok");
      // Not forced: what the user types while the saved config is read back (formDirty again) is kept, not overwritten.
      await this.load({ editor: true });
    } catch (e) {
      const err = e as ApiError;
      setText(status, err.issues.length ? `Not saved: ${err.issues.length === 1 ? "one field needs" : `${err.issues.length} fields need`} attention.` : `Not saved: ${err.message}`);
      this.showFormIssues(err.issues.length ? err.issues : [{ path: "", message: err.message }]);
    }
  }

  private clearFormIssues(): void {
    for (const el of this.form.querySelectorAll<HTMLElement>("[aria-invalid]")) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    }
    for (const el of this.form.querySelectorAll<HTMLElement>(".field-error")) {
      el.hidden = true;
      el.textContent = "";
    }
    $("#config-form-issues").replaceChildren();
  }

  private showFormIssues(issues: Issue[]): void {
    const unplaced: Issue[] = [];
    let first: HTMLElement | null = null;
    for (const issue of issues) {
      const field = issue.path ? fieldFor(this.form, issue.path) : null;
      const msg = field ? document.getElementById(`${field.id}-err`) : null;
      if (!field || !msg) {
        unplaced.push(issue);
        continue;
      }
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", msg.id);
      msg.textContent = msg.hidden ? issue.message : `${msg.textContent}; ${issue.message}`;
      msg.hidden = false;
      first ??= field;
    }
    $("#config-form-issues").replaceChildren(...unplaced.map((i) => h("li", {}, describe(i))));
    (first ?? $("#config-form-status")).focus();
  }

  private updateGutter(): void {
    const lines = this.editor.value.split("\n").length;
    const gutter = $("#toml-gutter");
    if (gutter.childElementCount !== lines) {
      gutter.replaceChildren(...Array.from({ length: lines }, (_, i) => h("span", { "data-line": i + 1 }, i + 1)));
    }
    for (const el of gutter.querySelectorAll(".bad")) el.classList.remove("bad");
    for (const line of (this.editor.dataset.badLines ?? "").split(",").filter(Boolean)) gutter.querySelector(`[data-line="${line}"]`)?.classList.add("bad");
  }

  private showEditorIssues(issues: Issue[]): void {
    const list = $("#toml-issues");
    this.editor.dataset.badLines = issues.map((i) => i.line).filter(Boolean).join(",");
    if (issues.length) this.editor.setAttribute("aria-invalid", "true");
    else this.editor.removeAttribute("aria-invalid");
    list.replaceChildren(
      ...issues.map((issue) => {
        const b = h("button", { type: "button", class: "link" }, describe(issue));
        if (issue.line) b.addEventListener("click", () => this.goTo(issue.line!, issue.column ?? 1));
        return h("li", { "data-line": issue.line ?? "" }, b);
      }),
    );
    this.updateGutter();
  }

  private goTo(line: number, column: number): void {
    const lines = this.editor.value.split("\n");
    let offset = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i]!.length + 1;
    offset += Math.max(0, column - 1);
    this.editor.focus();
    this.editor.setSelectionRange(offset, offset);
    const lineHeight = this.editor.scrollHeight / Math.max(1, lines.length);
    this.editor.scrollTop = Math.max(0, (line - 3) * lineHeight);
  }

  private async validateText(): Promise<boolean> {
    const status = $("#toml-status");
    setText(status, "Checking…");
    try {
      const r = await call<{ ok?: boolean; valid?: boolean; issues?: Issue[] }>("POST", "/api/v1/config/validate", { text: this.editor.value });
      const issues = r?.issues ?? [];
      this.showEditorIssues(issues);
      const ok = issues.length === 0 && r?.ok !== false && r?.valid !== false;
      setText(status, ok ? "Valid." : `${issues.length} problem${issues.length === 1 ? "" : "s"} found.`);
      return ok;
    } catch (e) {
      const err = e as ApiError;
      this.showEditorIssues(err.issues.length ? err.issues : [{ path: "", message: err.message }]);
      setText(status, `${err.issues.length || 1} problem${err.issues.length > 1 ? "s" : ""} found.`);
      return false;
    }
  }

  private async saveText(): Promise<void> {
    const status = $("#toml-status");
    setText(status, "Saving…");
    try {
      this.changedAt = Date.now();
      await call("PUT", "/api/v1/config", { text: this.editor.value, contentType: "application/toml", ifMatch: this.etag });
      this.editorDirty = false;
      await this.load({ form: true, editor: true });
      setText(status, "Saved. The daemon applied the new configuration.");
      toast("Configuration saved and applied.", "ok");
    } catch (e) {
      const err = e as ApiError;
      // Loaded again, the page says the file changed (the editor keeps the text); the next save replaces it knowingly.
      if (err.code === "precondition_failed") {
        // Said once the file's new version is loaded, so a save the user makes on reading it replaces that version.
        await this.load();
        return void setText(status, "Not saved: the file changed since this page read it. Revert shows it; Save and apply replaces it with your text.");
      }
      this.showEditorIssues(err.issues.length ? err.issues : [{ path: "", message: err.message }]);
      setText(status, `Not saved: ${err.issues.length ? `${err.issues.length} problem${err.issues.length === 1 ? "" : "s"} found` : err.message}.`);
    }
  }

  private async loadBackups(): Promise<void> {
    const list = $("#backups-list");
    try {
      const r = await call<{ backups?: BackupRow[] } | BackupRow[]>("GET", "/api/v1/config/backups");
      // Newest first, whatever order the API used.
      const rows = (Array.isArray(r) ? r : (r.backups ?? [])).slice().sort((a, b) => (a.time < b.time ? 1 : -1));
      // Same list as shown: keep the nodes (a half-pressed Restore and the focus survive a reload event).
      const key = rows.map((b) => b.id).join(",");
      if (list.dataset.key !== key) {
        list.dataset.key = key;
        list.replaceChildren(...rows.map((b) => this.backupRow(b)));
      }
      $("#no-backups").hidden = rows.length > 0;
    } catch (e) {
      list.dataset.key = "";
      list.replaceChildren(h("li", { class: "error-text" }, (e as Error).message));
    }
  }

  private backupRow(b: BackupRow): HTMLLIElement {
    const button = h("button", { type: "button", class: "secondary", "aria-label": `Restore backup from ${new Date(b.time).toLocaleString()}` }, "Restore");
    let armed: ReturnType<typeof setTimeout> | undefined;
    button.addEventListener("click", async () => {
      // Two steps instead of a native confirm(): the second press within 5 s restores.
      if (!armed) {
        setText(button, "Press again to restore");
        armed = setTimeout(() => {
          armed = undefined;
          setText(button, "Restore");
        }, 5000);
        return;
      }
      clearTimeout(armed);
      armed = undefined;
      button.disabled = true;
      try {
        this.changedAt = Date.now();
        await api.call("POST", "/api/v1/config/backups/:id/restore", { params: { id: b.id } });
        toast(`Restored the backup from ${new Date(b.time).toLocaleString()}.`, "ok");
        await this.load({ form: true, editor: true });
      } catch (e) {
        toast((e as Error).message, "error");
      } finally {
        button.disabled = false;
        setText(button, "Restore");
      }
    });
    return h("li", { "data-backup": b.id }, h("span", {}, new Date(b.time).toLocaleString()), " ", h("span", { class: "muted" }, `${b.size} bytes`), " ", button);
  }

  private async exportFile(): Promise<void> {
    const secrets = $<HTMLInputElement>("#export-secrets").checked;
    try {
      const text = await call<string>("GET", "/api/v1/config/export", { asText: true, query: { include_secrets: secrets || undefined } });
      const url = URL.createObjectURL(new Blob([text], { type: "application/toml" }));
      const a = h("a", { href: url, download: "tunnel.toml", hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (e) {
      toast((e as Error).message, "error");
    }
  }

  private async importFile(input: HTMLInputElement): Promise<void> {
    const file = input.files?.[0];
    if (!file) return;
    const status = $("#import-status");
    try {
      const text = await file.text();
      this.changedAt = Date.now();
      await call("POST", "/api/v1/config/import", { text, contentType: file.name.endsWith(".json") ? "application/json" : "application/toml" });
      setText(status, `Imported ${file.name}.`);
      toast(`Imported ${file.name}; the daemon applied it.`, "ok");
      await this.load({ form: true, editor: true });
    } catch (e) {
      const err = e as ApiError;
      setText(status, `Not imported: ${err.issues.length ? err.issues.map(describe).join("; ") : err.message}`);
    } finally {
      input.value = "";
    }
  }
}

interface BackupRow {
  id: string;
  time: string;
  size: number;
}

function readField(el: HTMLInputElement | HTMLSelectElement): unknown {
  if (el instanceof HTMLInputElement) {
    if (el.type === "checkbox") return el.checked;
    // A number field that does not parse goes to the API as typed, so the API's message lands at this field.
    if (el.type === "number") return el.value.trim() === "" ? el.value : Number.isFinite(Number(el.value)) ? Number(el.value) : el.value;
  }
  return el.value;
}

