// GET/PUT /api/v1/config, validate, export, import, reload, backups and restore; none is public (reads include the config).
import { Elysia, t } from "elysia";
import type { ApiDeps } from "../../deps.ts";
import { ReloadResult, errors } from "../../schemas.ts";
import { Backup, BackupId, ConfigBody, ConfigView, ExportQuery, Validation, WriteOutcome } from "./model.ts";
import { configTag, exportConfig, listBackups, readConfig, reloadConfig, restoreBackup, validateBody, writeConfig } from "./service.ts";

const tags = ["config"];

export const configModule = (deps: ApiDeps) =>
  new Elysia({ prefix: "/api/v1/config" })
    .get(
      "",
      ({ set }) => {
        set.headers.etag = configTag(deps.ctx);
        return readConfig(deps.ctx);
      },
      {
        response: { 200: ConfigView, ...errors(401) },
        detail: {
          tags,
          summary: "The running config (secrets redacted)",
          description: "The ETag header is the config file's version: send it back in If-Match with PUT, import or restore.",
        },
      },
    )
    .put("", ({ body, headers }) => writeConfig(deps.ctx, body, headers["if-match"]), {
      body: ConfigBody,
      response: { 200: WriteOutcome, ...errors(400, 401, 403, 412, 413, 415, 422) },
      detail: {
        tags,
        summary: "Replace the config: validated, written with a backup, applied without a restart",
        description:
          "Send TOML as text/plain or application/toml, or JSON as application/json. " +
          "422 validation_failed lists every issue with its field path, and line and column for TOML. " +
          "403 forbidden when it would change api.token_file or tunnel.ca_file: those are changed by editing the file only. " +
          "With If-Match (the ETag GET sent), 412 precondition_failed when the file changed since: nothing is written.",
      },
    })
    .post("/validate", ({ body }) => validateBody(deps.ctx, body), {
      body: ConfigBody,
      // 422 for a body that is neither TOML text nor a JSON object (none at all, a list); an invalid config is a 200 with its issues.
      response: { 200: Validation, ...errors(400, 401, 413, 415, 422) },
      detail: { tags, summary: "Check a config without applying it" },
    })
    .post("/reload", () => reloadConfig(deps.ctx), {
      response: { 200: ReloadResult, ...errors(401, 422) },
      detail: { tags, summary: "Re-read the config file from disk (like SIGHUP)" },
    })
    .get(
      "/export",
      ({ query }) =>
        new Response(exportConfig(deps.ctx, query.include_secrets ?? false), {
          headers: {
            "content-type": "application/toml; charset=utf-8",
            "content-disposition": 'attachment; filename="tunnel.toml"',
            etag: configTag(deps.ctx),
          },
        }),
      {
        query: ExportQuery,
        response: { 200: t.String({ description: "TOML" }), ...errors(401, 409) },
        detail: { tags, summary: "Download the config file as TOML (secrets redacted unless asked)" },
      },
    )
    .post("/import", ({ body, headers }) => writeConfig(deps.ctx, body, headers["if-match"]), {
      body: ConfigBody,
      response: { 200: WriteOutcome, ...errors(400, 401, 403, 412, 413, 415, 422) },
      detail: { tags, summary: "Upload a config file (TOML); same checks as PUT" },
    })
    .get("/backups", () => listBackups(deps.ctx), {
      response: { 200: t.Array(Backup), ...errors(401) },
      detail: { tags, summary: "Backups of the config file, newest first" },
    })
    .post("/backups/:id/restore", ({ params, headers }) => restoreBackup(deps.ctx, params.id, headers["if-match"]), {
      params: BackupId,
      response: { 200: WriteOutcome, ...errors(401, 403, 404, 412, 422) },
      detail: { tags, summary: "Put a backup back (the current file is backed up first) and apply it" },
    });
