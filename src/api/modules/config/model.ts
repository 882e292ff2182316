// Shapes of the /api/v1/config routes.
import { t } from "elysia";
import { ConfigIssue, ReloadResult } from "../../schemas.ts";

const EXAMPLE_TOML = '[api]\nlisten = "127.0.0.1:8765"\n\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:11434"\n';

/** TOML text (text/plain or application/toml) or the same config as a JSON object. */
export const ConfigBody = t.Union([t.String({ description: "TOML text", examples: [EXAMPLE_TOML] }), t.Record(t.String(), t.Unknown())], {
  description: "The whole config: TOML (Content-Type text/plain or application/toml) or JSON (application/json).",
  examples: [EXAMPLE_TOML, { upstreams: [{ name: "local", url: "http://127.0.0.1:11434" }] }],
});

export const ConfigView = t.Object({
  path: t.String({ description: "The config file." }),
  config: t.Record(t.String(), t.Unknown(), { description: "The running config with inline secrets redacted." }),
  redacted: t.Array(t.String(), { description: "Fields that were redacted." }),
  lastReload: t.Union([ReloadResult, t.Null()]),
});

export const Backup = t.Object({ id: t.String({ examples: ["20261121T154210123Z"] }), time: t.String(), size: t.Number() });

export const WriteOutcome = t.Object({ ok: t.Literal(true), backup: t.Union([Backup, t.Null()]), reload: ReloadResult });

export const Validation = t.Object(
  { valid: t.Boolean(), issues: t.Array(ConfigIssue) },
  { examples: [{ valid: false, issues: [{ path: "api.listen", message: "not a listen address", line: 2, column: 1 }] }] },
);

export const ExportQuery = t.Object({
  include_secrets: t.Optional(t.Boolean({ default: false, description: "Keep inline secrets instead of redacting them." })),
});

export const BackupId = t.Object({ id: t.String({ pattern: "^[0-9]{8}T[0-9]{9}Z(-[0-9]+)?$", examples: ["20261121T154210123Z"] }) });
