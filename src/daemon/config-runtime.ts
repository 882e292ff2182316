// The running configuration: the last good config, the last reload's outcome, and reloads that never replace good with bad.
import type { Config, Section } from "../config/schema.ts";
import { parseConfig, readConfigText, type ConfigIssue } from "../config/load.ts";
import { locate } from "../config/locate.ts";
import { ListenError } from "../core/listen-error.ts";
import { changedSections } from "../config/changes.ts";

export { changedSections };
import type { ReloadResult } from "../core/contracts.ts";
import type { EventBus } from "../core/events.ts";
import { logger } from "../core/log.ts";

const log = logger("config");

export class ConfigRuntime {
  private last: ReloadResult | null = null;
  private applying: Promise<void> = Promise.resolve();
  /** The file text the running config came from, when known: a save of that same text is not a change. */
  private text: string | null = null;
  /**
   * Counts the configs installed since start (1 = the one loaded at start): each reload that is applied carries the
   * next number, and a file the runtime wrote itself is not applied again (fileChanged), so one change is one version.
   */
  version = 1;

  constructor(
    readonly file: string,
    private config: Config,
    private readonly events: EventBus,
    /** Applies a new config to the components, with the sections that changed; set by the daemon. */
    public onApply: (next: Config, prev: Config, changed: ReadonlySet<Section>) => Promise<void> = async () => {},
    /** Binds what the new config needs before anything changes; throwing refuses the reload. Set by the daemon. */
    public onPrepare: (next: Config, prev: Config) => Promise<void> = async () => {},
  ) {}

  current(): Config {
    return this.config;
  }
  lastReload(): ReloadResult | null {
    return this.last;
  }

  /**
   * The file watcher saw new text. The daemon's own writes (a PUT, import or restore through the API) were installed
   * already with their text: seeing that text again is not a second change, so it is neither applied nor announced.
   */
  async fileChanged(text: string | null): Promise<ReloadResult> {
    if (text !== null && text === this.text && this.last?.ok !== false) return this.last ?? { at: new Date().toISOString(), ok: true };
    // null: the watcher could not read the file; reading it again here rejects it with the reason.
    return this.reload(text ?? undefined);
  }

  /** Re-reads the file (or takes the text the file watcher just read). An invalid file is reported and the running config stays. */
  async reload(fileText?: string): Promise<ReloadResult> {
    let text: string;
    try {
      text = fileText ?? readConfigText(this.file);
    } catch (e) {
      return this.reject({ file: this.file, path: "", message: `cannot read: ${(e as Error).message}` });
    }
    const r = parseConfig(text, this.file);
    if (!r.ok) return this.reject(r.issues[0]!, ...r.issues.slice(1));
    return this.replace(r.config, text);
  }

  /**
   * Installs an already validated config (used by reload and by the API's PUT after the store wrote it). The components
   * first bind what it needs (new listen addresses); when one cannot, the reload is rejected and nothing changed.
   * `text` is the file it came from, to point a rejection at its line.
   */
  async replace(next: Config, text?: string): Promise<ReloadResult> {
    // Serialise reloads so two quick ones never interleave; each compares with the config the one before it left.
    const run = this.applying.then(() => this.install(next, text));
    this.applying = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private async install(next: Config, text?: string): Promise<ReloadResult> {
    const prev = this.config;
    try {
      await this.onPrepare(next, prev);
    } catch (e) {
      return this.reject(this.refusal(e, text));
    }
    const sections = changedSections(prev, next);
    this.config = next;
    this.text = text ?? null;
    this.version++;
    await this.onApply(next, prev, new Set(sections));
    this.last = { at: new Date().toISOString(), ok: true };
    if (sections.length) log.info("configuration reloaded", { sections: sections.join(",") });
    this.events.emit("config.reloaded", { path: this.file, sections, version: this.version });
    return this.last;
  }

  /** A component's refusal as an issue: a ListenError names its field, found in the file for line and column. */
  private refusal(e: unknown, text?: string): ConfigIssue {
    const path = e instanceof ListenError ? e.field : "";
    let where = {};
    if (path) {
      try {
        where = locate(text ?? readConfigText(this.file), path) ?? {};
      } catch {}
    }
    return { file: this.file, path, message: e instanceof Error ? e.message : String(e), ...where };
  }

  private reject(issue: ConfigIssue, ...rest: ConfigIssue[]): ReloadResult {
    const shape = (i: ConfigIssue) => ({ message: i.message, file: i.file, line: i.line, column: i.column, path: i.path || undefined });
    const more = rest.length;
    this.last = {
      at: new Date().toISOString(),
      ok: false,
      error: shape(issue),
      // Every problem, so `reload` can print them all as `config validate` does (error stays the first, for one-line views).
      ...(more ? { issues: [issue, ...rest].map(shape) } : {}),
    };
    log.error("configuration rejected, keeping the running one", {
      file: issue.file,
      line: issue.line,
      column: issue.column,
      field: issue.path || undefined,
      error: issue.message,
      // The first problem is enough to find the file; `config validate` lists them all.
      more_problems: more || undefined,
    });
    this.events.emit("config.rejected", { path: this.file, message: issue.message, line: issue.line, column: issue.column, field: issue.path || undefined });
    return this.last;
  }
}
