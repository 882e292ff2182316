// Usage per UTC day, API key, model and caller class (requests, errors, prompt and completion tokens), kept across
// restarts in one 0600 JSON file written atomically (the previous version as .bak); the daily token budgets read it.
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { atomicWriteWithBackup } from "../config/atomic-write.ts";
import { atomicWriteWithBackupInBackground } from "./background-write.ts";
import { appStateDir } from "../config/paths.ts";
import type { RequestRecord, UsageRow } from "../core/contracts.ts";
import { logger } from "../core/log.ts";

const log = logger("gateway");

export function defaultUsageFile(): string {
  return join(appStateDir(), "usage.json");
}

export type { UsageRow };

export interface UsageQuery {
  key?: string;
  model?: string;
  /** First UTC day included, YYYY-MM-DD. */
  since?: string;
}

/** Days kept in the file: enough for a month's report, small enough to rewrite at once. */
const KEEP_DAYS = 62;

/**
 * The model name is the caller's: a caller naming a new one in every request (each a 404) would add a row, and a
 * series in /metrics, per request. So each key and caller class has its own rows for at most this many models a day;
 * the requests naming others are counted under OTHER_MODEL (their tokens still count against the key's budget). A
 * model an upstream lists (or an alias) has its own row besides, taking no place: made-up names cannot push it out.
 */
export const MAX_MODELS_PER_DAY = 256;
export const OTHER_MODEL = "(other)";

const DAY_MS = 86_400_000;
let dayStart = 0;
let dayEnd = -1;
let dayText = "";
/** "YYYY-MM-DD" (UTC) of a time; asked on every request, so the current day's text is kept (JS days are exactly DAY_MS). */
export function utcDay(ms: number): string {
  if (ms < dayStart || ms >= dayEnd) {
    dayStart = Math.floor(ms / DAY_MS) * DAY_MS;
    dayEnd = dayStart + DAY_MS;
    dayText = new Date(dayStart).toISOString().slice(0, 10);
  }
  return dayText;
}

export class UsageLedger {
  private rows = new Map<string, UsageRow>();
  /** Today's tokens per key: what the budgets compare with, without a scan. */
  private keyTokens = new Map<string, number>();
  private keyTokensDay = "";
  private dirty = false;

  constructor(
    readonly file: string = defaultUsageFile(),
    private readonly now: () => number = Date.now,
    /** Whether an upstream lists the model (or it is an alias); asked only for a name new today. */
    private readonly listed: (model: string) => boolean = () => false,
  ) {
    this.load();
  }

  private load(): void {
    if (!existsSync(this.file)) return;
    try {
      this.readRows(this.file);
    } catch (e) {
      // The unreadable file is kept beside for a person to look at (the next write replaces it).
      try {
        copyFileSync(this.file, this.file + ".unreadable");
      } catch {}
      // Its previous version (one write, a few seconds, older) keeps the day's counts, and so the keys' budgets;
      // only without one does counting start again, rather than stopping the daemon.
      try {
        this.readRows(this.file + ".bak");
        log.warn("the usage file could not be read; counting goes on from its previous version (.bak)", { file: this.file, error: e as Error });
      } catch {
        log.warn("the usage file could not be read; usage counting starts from zero", { file: this.file, error: e as Error });
      }
    }
  }

  /** Takes the rows of `file`, all or none. */
  private readRows(file: string): void {
    const data = JSON.parse(readFileSync(file, "utf8")) as { version?: number; rows?: UsageRow[] };
    if (data?.version !== 1 || !Array.isArray(data.rows)) throw new Error("not a usage file");
    const rows = new Map<string, UsageRow>();
    // Rows written before queue time was counted have none.
    for (const r of data.rows) rows.set(rowKey(r.day, r.key, r.model, r.caller), { ...r, queue_ms: r.queue_ms ?? 0 });
    this.rows = rows;
    // A file from a daemon that stopped counting long ago (or one copied in) answers only the days kept, from the start.
    if (this.prune()) this.dirty = true;
  }

  /** Drops days past KEEP_DAYS; true when there were any. */
  private prune(): boolean {
    const oldest = utcDay(this.now() - KEEP_DAYS * 86_400_000);
    const before = this.rows.size;
    for (const [k, r] of this.rows) if (r.day < oldest) this.rows.delete(k);
    return this.rows.size < before;
  }

  /** Counts one finished request; returns the model name it was counted under (OTHER_MODEL past the day's bound). */
  add(rec: Pick<RequestRecord, "model" | "status" | "error" | "promptTokens" | "completionTokens" | "key" | "caller" | "source" | "queueMs">): string {
    const day = utcDay(this.now());
    // Today's per-key totals are brought up to date before this request is added to the rows they are counted from.
    this.rollKeyDay(day);
    const key = rec.key ?? "-";
    const caller = rec.caller ?? (rec.source === "tunnel" ? "tunnel" : "local");
    const model = rec.model ?? "-";
    const row = this.todayRow(day, key, model, caller);
    row.queue_ms = (row.queue_ms ?? 0) + (rec.queueMs ?? 0);
    row.requests++;
    if (rec.status >= 400 || rec.status === 0 || rec.error !== null) row.errors++;
    const tokens = (rec.promptTokens ?? 0) + (rec.completionTokens ?? 0);
    row.prompt_tokens += rec.promptTokens ?? 0;
    row.completion_tokens += rec.completionTokens ?? 0;
    if (rec.key) {
      this.keyTokens.set(rec.key, (this.keyTokens.get(rec.key) ?? 0) + tokens);
    }
    this.dirty = true;
    return row.model;
  }

  /** Today's rows by key, model and caller: found per request without building the row's key string. */
  private today = new Map<string, Map<string, Map<UsageRow["caller"], UsageRow>>>();
  private todayDay = "";
  /** Today's distinct models per key and caller class ("key\0caller"), for MAX_MODELS_PER_DAY. */
  private todayModels = new Map<string, number>();
  private todayRow(day: string, key: string, model: string, caller: UsageRow["caller"]): UsageRow {
    if (day !== this.todayDay) {
      this.todayDay = day;
      this.today = new Map();
      // Rows of today already there (read from the file at start) count towards the bound.
      this.todayModels = new Map();
      for (const r of this.rows.values()) if (r.day === day) this.todayModels.set(r.key + "\u0000" + r.caller, (this.todayModels.get(r.key + "\u0000" + r.caller) ?? 0) + 1);
    }
    let byModel = this.today.get(key);
    if (!byModel) this.today.set(key, (byModel = new Map()));
    const row = byModel.get(model)?.get(caller);
    return row ?? this.newTodayRow(day, key, model, caller, byModel);
  }

  /** First request of the day (in this process) for a key, model and caller: its row, or OTHER_MODEL's past the bound. */
  private newTodayRow(day: string, key: string, model: string, caller: UsageRow["caller"], byModel: Map<string, Map<UsageRow["caller"], UsageRow>>): UsageRow {
    const k = rowKey(day, key, model, caller);
    let found = this.rows.get(k);
    if (!found) {
      const counted = key + "\u0000" + caller;
      const n = this.todayModels.get(counted) ?? 0;
      // A listed model neither counts towards the bound nor is refused by it (the upstreams' lists bound those).
      const real = model !== OTHER_MODEL && this.listed(model);
      // Checked before anything is kept for the name: a refused name leaves nothing behind.
      if (n >= MAX_MODELS_PER_DAY && model !== OTHER_MODEL && !real) return this.todayRow(day, key, OTHER_MODEL, caller);
      if (!real) this.todayModels.set(counted, n + 1);
      this.rows.set(k, (found = { day, key, model, caller, requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, queue_ms: 0 }));
    }
    let byCaller = byModel.get(model);
    if (!byCaller) byModel.set(model, (byCaller = new Map()));
    byCaller.set(caller, found);
    return found;
  }

  private rollKeyDay(day: string): void {
    if (day === this.keyTokensDay) return;
    this.keyTokensDay = day;
    this.keyTokens.clear();
    for (const r of this.rows.values()) if (r.day === day && r.key !== "-") this.keyTokens.set(r.key, (this.keyTokens.get(r.key) ?? 0) + r.prompt_tokens + r.completion_tokens);
  }

  /** Prompt + completion tokens a key used today (UTC). */
  tokensToday(key: string): number {
    this.rollKeyDay(utcDay(this.now()));
    return this.keyTokens.get(key) ?? 0;
  }

  /** Rows matching the query, oldest day first. */
  query(q: UsageQuery = {}): UsageRow[] {
    return [...this.rows.values()]
      .filter((r) => (q.key === undefined || r.key === q.key) && (q.model === undefined || r.model === q.model) && (q.since === undefined || r.day >= q.since))
      .sort(compareUsageRows)
      .map((r) => ({ ...r }));
  }

  /** Writes the file now if anything changed (at stop: after close() let a write in the background finish); drops days past KEEP_DAYS. */
  flush(): void {
    if (!this.dirty) return;
    atomicWriteWithBackup(this.file, this.text(), 0o600);
    this.dirty = false;
  }

  private writing: Promise<void> | null = null;
  /**
   * The periodic write (every few seconds under traffic): the rows are read now, the file written off the main thread
   * (background-write.ts), so requests are not held up by its fsyncs. One at a time: while one is under way this waits
   * for it; a failed one leaves the rows to write next time.
   */
  flushInBackground(): Promise<void> {
    // Rows counted while a write is under way go in the next one, right after it.
    if (this.writing) return this.writing.catch(() => {}).then(() => this.flushInBackground());
    if (!this.dirty) return Promise.resolve();
    const text = this.text();
    this.dirty = false;
    this.writing = atomicWriteWithBackupInBackground(this.file, text, 0o600)
      .catch((e: unknown) => {
        this.dirty = true;
        throw e;
      })
      .finally(() => {
        this.writing = null;
      });
    return this.writing;
  }

  /** At stop: a write under way finishes first (it would otherwise land after, with older rows), then the rest now. */
  async close(): Promise<void> {
    await this.writing?.catch(() => {});
    this.flush();
  }

  private text(): string {
    this.prune();
    return JSON.stringify({ version: 1, rows: this.query() }) + "\n";
  }
}

function rowKey(day: string, key: string, model: string, caller: string): string {
  return `${day}\u0000${key}\u0000${model}\u0000${caller}`;
}

type UsagePlace = { day: string; key: string; model: string; caller: string };

/** The report's order: day, then key, model and caller; a page's cursor (`after`) is a row's place in it. */
export function compareUsageRows(a: UsagePlace, b: UsagePlace): number {
  return a.day.localeCompare(b.day) || a.key.localeCompare(b.key) || a.model.localeCompare(b.model) || a.caller.localeCompare(b.caller);
}
