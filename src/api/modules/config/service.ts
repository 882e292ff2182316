// Config read (redacted), validate, write through the ConfigStore with a backup and hot-apply, export/import, backups and restore.
import { stringify } from "smol-toml";
import type { DaemonContext } from "../../../core/component.ts";
import { HttpError } from "../../../core/http-error.ts";
import { outOfDescriptors } from "../../../core/fd-exhaustion.ts";
import type { ReloadResult } from "../../../core/contracts.ts";
import { parseConfig, readConfigText, validateSettings, type ConfigIssue, type LoadResult } from "../../../config/load.ts";
import { REDACTED, redactSecrets } from "../../../config/redact.ts";
import { holdsRedactedUrlPart, redactUrlsDeep, redactUrlsIn } from "../../../net/redact-url.ts";
import { ConfigStore, type BackupInfo } from "../../../config/store.ts";
import type { Config } from "../../../config/schema.ts";
import { tokenFile } from "../../token.ts";
import { keepUnchangedSecrets } from "./unchanged-secrets.ts";
import { checkIfMatch, fileTag } from "./file-version.ts";

export type Issue = { path: string; message: string; line?: number; column?: number };

const store = (ctx: DaemonContext) => new ConfigStore(ctx.config.path());

// Issues quote the offending value, which may be a URL with credentials: shown through the one URL redaction.
const publicIssue = ({ path, message, line, column }: ConfigIssue): Issue => ({
  path,
  message: redactUrlsIn(message),
  ...(line !== undefined ? { line } : {}),
  ...(column !== undefined ? { column } : {}),
});

function invalid(issues: ConfigIssue[]): HttpError {
  const list = issues.map(publicIssue);
  const first = list[0]!;
  const where = first.line ? `line ${first.line}, column ${first.column ?? 1}: ` : "";
  return new HttpError("validation_failed", `the config is invalid: ${where}${first.path ? `${first.path}: ` : ""}${first.message}`, list);
}

const publicBackup = ({ id, time, size }: BackupInfo) => ({ id, time, size });

/** The file was written but the daemon refused to run it (e.g. its new listen port is taken): 409, the running config kept. */
function applied(ctx: DaemonContext, reload: ReloadResult, backup: BackupInfo | null): ReloadResult {
  if (reload.ok) return reload;
  const e = reload.error!;
  throw new HttpError(
    "conflict",
    `saved to ${ctx.config.path()} but not applied: ${e.path ? `${e.path}: ` : ""}${redactUrlsIn(e.message)}; the daemon keeps running the previous configuration${backup ? ` (backup ${backup.id} holds the previous file)` : ""}`,
    { reload: redactUrlsDeep(reload), backup: backup ? publicBackup(backup) : null },
  );
}

/** Paths in `value` still holding "[redacted]" (a GET or export sent back unchanged would wipe real secrets). */
function redactedPaths(value: unknown, path = ""): string[] {
  if (value === REDACTED) return [path];
  if (typeof value === "string") return holdsRedactedUrlPart(value) ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => redactedPaths(v, `${path}[${i}]`));
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => redactedPaths(v, path ? `${path}.${k}` : k));
  return [];
}

/**
 * Files that decide who may use the API or whom the daemon trusts. Through the API a caller could otherwise point them at
 * any file the daemon can read (which would become the token, and be chmodded) or at a CA of its choosing: only an edit
 * of the config file itself may change them. Compared by what they resolve to, so an unchanged value always passes.
 */
const FILE_ONLY: { path: string; why: string; value(c: Config): string }[] = [
  { path: "api.token_file", why: "it decides which token the API accepts", value: (c) => tokenFile(c) },
  { path: "tunnel.ca_file", why: "it decides which certificates the tunnel trusts for the relay", value: (c) => c.tunnel.ca_file },
];

/** Refuses (403) a config from the API that changes a FILE_ONLY field, naming each field and saying to edit the file. */
function keepFileOnlyFields(ctx: DaemonContext, next: Config): void {
  const current = ctx.config.current();
  const changed = FILE_ONLY.filter((f) => f.value(next) !== f.value(current));
  if (!changed.length) return;
  const file = ctx.config.path();
  const details = changed.map((f) => ({
    path: f.path,
    message: `cannot be changed through the API (${f.why}); keep ${JSON.stringify(f.value(current))} here, and edit ${file} to change it`,
  }));
  throw new HttpError(
    "forbidden",
    `${changed.map((f) => f.path).join(" and ")} cannot be changed through the API (${changed.map((f) => f.why).join("; ")}): ` +
      `edit ${file} instead, which the daemon picks up by itself (or run \`cloudtolocalllm-tunnel reload\`)`,
    details,
  );
}

/** A TOML string or a JSON object → TOML text and its validation result (issues carry line/column for TOML). */
export function checkBody(ctx: DaemonContext, body: unknown): { text: string; result: LoadResult } {
  const file = ctx.config.path();
  if (typeof body === "string") {
    const result = parseConfig(body, file);
    if (result.ok) {
      const hidden = redactedPaths(result.config);
      if (hidden.length) return { text: body, result: redactedIssue(file, hidden) };
    }
    return { text: body, result };
  }
  if (!body || typeof body !== "object" || Array.isArray(body))
    throw new HttpError("bad_request", "send the config as TOML (text/plain or application/toml) or as a JSON object");
  // The dashboard's form sends the config back whole, as GET showed it: a secret it left as shown stays the secret.
  body = keepUnchangedSecrets(body, ctx.config.current());
  // As the file it becomes is checked: a JSON object that sets nothing is refused by validate as by PUT.
  const result = validateSettings(body, file);
  if (result.ok) {
    const hidden = redactedPaths(body);
    if (hidden.length) return { text: "", result: redactedIssue(file, hidden) };
  }
  return { text: result.ok ? stringify(body as Record<string, unknown>) + "\n" : "", result };
}

function redactedIssue(file: string, paths: string[]): LoadResult {
  return {
    ok: false,
    issues: paths.map((path) => ({ file, path, message: 'still holds "[redacted]": put the real value back or leave the field out' })),
  };
}

/** The config file's version (ETag): GET and export send it, PUT, import and restore check it in If-Match. */
export function configTag(ctx: DaemonContext): string {
  return fileTag(store(ctx).read());
}

export function readConfig(ctx: DaemonContext) {
  const { value, redacted } = redactSecrets(ctx.config.current());
  return { path: ctx.config.path(), config: value as Record<string, unknown>, redacted, lastReload: redactUrlsDeep(ctx.config.lastReload()) };
}

export function validateBody(ctx: DaemonContext, body: unknown): { valid: boolean; issues: Issue[] } {
  const { result } = checkBody(ctx, body);
  return result.ok ? { valid: true, issues: [] } : { valid: false, issues: result.issues.map(publicIssue) };
}

/** Validates, writes through the store (backing up the old file), then hot-applies the new config. */
export async function writeConfig(ctx: DaemonContext, body: unknown, ifMatch?: string | null) {
  const { text, result } = checkBody(ctx, body);
  if (!result.ok) throw invalid(result.issues);
  keepFileOnlyFields(ctx, result.config);
  // Checked and written in one synchronous step: no other API write can land between them.
  const s = store(ctx);
  checkIfMatch(ifMatch, s.read(), s.file);
  const w = s.write(text);
  if (!w.ok) throw invalid(w.issues);
  // With its text, so the file watcher seeing this write does not apply it a second time.
  const reload = applied(ctx, await ctx.config.runtime.replace(w.config, text), w.backup);
  return { ok: true as const, backup: w.backup ? publicBackup(w.backup) : null, reload };
}

export function exportConfig(ctx: DaemonContext, includeSecrets: boolean): string {
  try {
    return store(ctx).export({ includeSecrets });
  } catch (e) {
    // Out of file descriptors is no conflict of the file's: the API's 503 (errors.ts).
    if (outOfDescriptors(e)) throw e;
    throw new HttpError("conflict", `the config file cannot be exported: ${redactUrlsIn((e as Error).message)}`);
  }
}

export function listBackups(ctx: DaemonContext) {
  return store(ctx)
    .list()
    .map(publicBackup)
    .reverse();
}

export async function restoreBackup(ctx: DaemonContext, id: string, ifMatch?: string | null) {
  // A backup is an older file: restoring it through the API must not bring back other FILE_ONLY values either.
  const backup = store(ctx).list().find((b) => b.id === id);
  if (backup) {
    // Read as the config is, at most 1 MiB: a file of gigabytes set aside by a save is refused for its size, not read whole.
    const old = parseConfig(readConfigText(backup.file), backup.file);
    if (old.ok) keepFileOnlyFields(ctx, old.config);
  }
  // An unknown id throws BackupNotFoundError: 404 by the table of stable codes (src/api/errors.ts maps it).
  const s = store(ctx);
  checkIfMatch(ifMatch, s.read(), s.file);
  const w = s.restore(id);
  if (!w.ok) throw invalid(w.issues);
  const reload = applied(ctx, await ctx.config.runtime.replace(w.config, store(ctx).read() ?? undefined), w.backup);
  return { ok: true as const, backup: w.backup ? publicBackup(w.backup) : null, reload };
}

/** Re-reads the file from disk, like SIGHUP; a rejected file keeps the running config and is reported as 422. */
export async function reloadConfig(ctx: DaemonContext): Promise<ReloadResult> {
  const r = await ctx.config.runtime.reload();
  if (!r.ok && r.error)
    throw invalid((r.issues ?? [r.error]).map((e) => ({ file: e.file ?? ctx.config.path(), path: e.path ?? "", message: e.message, line: e.line, column: e.column })));
  return r;
}
